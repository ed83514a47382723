// WeChat mini games and mini programs (docs/platforms.md): WeChatApi behind the Platform interface,
// its behaviour unchanged.
import type { KeyState, WeChatApi } from '../wechat/api.js';
import { resetSessionKey } from '../wechat/player-apis.js';
import { unsupported, type LoginAnswer, type Platform, type SignedCall } from './types.js';

const PATHS: Readonly<Record<SignedCall, string>> = Object.freeze({
  setUserStorage: '/wxa/set_user_storage',
  removeUserStorage: '/wxa/remove_user_storage',
  setUserInteractiveData: '/wxa/setuserinteractivedata',
});

export class WeChatPlatform implements Platform {
  readonly name = 'wechat' as const;
  readonly checksKeys = true;
  readonly guests = false;
  readonly wechat: WeChatApi;
  readonly #appId: string;

  constructor(api: WeChatApi, appId: string) {
    this.wechat = api;
    this.#appId = appId;
  }

  get tokens() {
    return this.wechat.tokens;
  }

  code2Session(code: string): Promise<LoginAnswer> {
    return this.wechat.code2Session(code);
  }

  async anonymousCode2Session(): Promise<LoginAnswer> {
    throw unsupported('A guest login (anonymousCode)', this.name, this.#appId);
  }

  checkSessionKey(openid: string, sessionKey: string): Promise<KeyState> {
    return this.wechat.checkSessionKey(openid, sessionKey);
  }

  signedPath(call: SignedCall): string {
    return PATHS[call];
  }

  signedPost(call: SignedCall, openid: string, sessionKey: string, payload: unknown): Promise<void> {
    return this.wechat.signedPost(PATHS[call], openid, sessionKey, payload);
  }

  resetSessionKey(openid: string, sessionKey: string): Promise<string> {
    return resetSessionKey(this.wechat, openid, sessionKey);
  }

  verifyCredentials(): Promise<void> {
    return this.wechat.verifyCredentials();
  }
}
