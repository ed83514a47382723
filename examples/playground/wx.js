// A browser `wx`: the part of WeChat's mini-game API that wx-session/client uses, so the real
// client runs in this page as it runs in a game.
//
// - wx.login asks the demo's embedded mock WeChat for a one-time code (POST /playground/api/code),
//   as WeChat's own wx.login gives a game one.
// - wx.request is fetch: an object body is sent as JSON (or as the query of a GET) and a JSON
//   answer is parsed, as WeChat does with its default dataType 'json'. It also names the phone
//   in X-Playground-Device, so the demo draws the exchange on the diagram.
// - wx.getStorageSync / setStorageSync / removeStorageSync are localStorage, one space per phone.

/** A `wx` for one device of the page ('phone-1', 'phone-2'). */
export function browserWx(device) {
  const prefix = `wx-session-playground/${device}/`;

  function fail(callbacks, what, error) {
    if (callbacks.fail) callbacks.fail({ errMsg: `${what}:fail ${error && error.message ? error.message : String(error)}`, errno: 600001 });
  }

  return {
    login(callbacks) {
      fetch('/playground/api/code', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ device }),
      })
        .then((response) => (response.ok ? response.json() : Promise.reject(new Error(`the demo answered ${response.status}`))))
        .then(
          (answer) => callbacks.success && callbacks.success({ code: answer.code }),
          (error) => fail(callbacks, 'login', error),
        );
    },

    request(options) {
      const method = options.method || 'GET';
      const headers = Object.assign({}, options.header, { 'X-Playground-Device': device });
      let url = options.url;
      let body;
      const data = options.data;
      if (data !== undefined) {
        if (method === 'GET') {
          const query = new URLSearchParams(typeof data === 'string' ? data : data).toString();
          if (query) url += (url.includes('?') ? '&' : '?') + query;
        } else {
          body = typeof data === 'string' || data instanceof ArrayBuffer ? data : JSON.stringify(data);
          if (!Object.keys(headers).some((name) => name.toLowerCase() === 'content-type')) headers['content-type'] = 'application/json';
        }
      }
      // WeChat's wx.request has no HTTP cache: neither has this one (no If-None-Match, no 304).
      fetch(url, { method, headers, body, cache: 'no-store' }).then(
        async (response) => {
          const text = await response.text();
          let parsed = text;
          if ((options.dataType || 'json') === 'json') {
            try {
              parsed = JSON.parse(text);
            } catch (_) {
              // WeChat hands over the text when it is not JSON
            }
          }
          const header = {};
          response.headers.forEach((value, name) => {
            header[name] = value;
          });
          if (options.success) options.success({ statusCode: response.status, data: parsed, header });
        },
        (error) => fail(options, 'request', error),
      );
    },

    uploadFile(options) {
      setTimeout(() => fail(options, 'uploadFile', new Error('no files in the playground')));
    },

    getStorageSync(key) {
      const value = localStorage.getItem(prefix + key);
      return value === null ? '' : value;
    },
    setStorageSync(key, value) {
      localStorage.setItem(prefix + key, value);
    },
    removeStorageSync(key) {
      localStorage.removeItem(prefix + key);
    },
  };
}
