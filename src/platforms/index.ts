// One Platform per app, on that app's options: WeChat, Douyin or QQ (docs/platforms.md).
import type { ResolvedOptions } from '../options.js';
import type { TokenCache } from '../store.js';
import { WeChatApi } from '../wechat/api.js';
import { DOUYIN_TOKENS, DouyinPlatform } from './douyin.js';
import { QQ_TOKENS, QqPlatform } from './qq.js';
import type { Platform } from './types.js';
import { WeChatPlatform } from './wechat.js';

export type { LoginAnswer, Platform, PlatformName, SignedCall } from './types.js';

/**
 * The platform of one app. `shared`: where instances share access tokens (the store's), keyed and
 * sealed by appId, so apps sharing a store never see each other's token.
 */
export function createPlatform(options: ResolvedOptions, shared?: TokenCache): Platform {
  switch (options.platform) {
    case 'douyin':
      return new DouyinPlatform(new WeChatApi(options, shared, DOUYIN_TOKENS), options.appId, options.appSecret);
    case 'qq':
      return new QqPlatform(new WeChatApi(options, shared, QQ_TOKENS), options.appId);
    default:
      return new WeChatPlatform(new WeChatApi(options, shared), options.appId);
  }
}
