import { signPayload } from 'wx-session';

// WeChat's own example: session_key o0q0otL8aEzpcZL/FT9WsQ==, body {"foo":"bar"}.
const signature = signPayload('{"foo":"bar"}', 'o0q0otL8aEzpcZL/FT9WsQ==');
console.log(signature); // 654571f79995b2ce1e149e53c0a33dc39c0a74090db514261454e8dbe432aa0b
