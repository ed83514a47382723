import { createWxSession } from 'wx-session';

const core = createWxSession({
  appId: process.env.WX_APPID!, // from the mini-game admin console
  appSecret: process.env.WX_APPSECRET!,
  secret: process.env.WX_SESSION_SECRET!, // 32+ random characters, the same on every instance
  apiBase: process.env.WX_API_BASE, // unset: https://api.weixin.qq.com
  logger: console,
});
await core.verify(); // one call to WeChat: a wrong AppID or AppSecret stops the start here
