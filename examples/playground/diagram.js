// The sequence diagram: three lifelines (the game, your server, WeChat) and one arrow per message,
// drawn from the demo's events (examples/demo-playground.ts) as they come. Every arrow is a
// button: it shows the exchange's method, path, status, headers and body below the diagram.
// The demo has masked every secret before an event leaves the server; this file only draws.

const PLACES = { game: 'the game', server: 'your server', wechat: 'WeChat' };
const DEVICE_NAMES = { 'phone-1': 'Phone 1', 'phone-2': 'Phone 2' };

/** What WeChat's answer to a call holds that the page does not show, by path. */
const WECHAT_NOTES = {
  '/sns/jscode2session': "code2Session: WeChat answers the player's openid and session_key. The server keeps the session_key (sealed in the session store) and never sends it on.",
  '/cgi-bin/stable_token': 'stable_token: WeChat answers an access token, which the server caches and puts in the query of its later calls (shown here as [redacted], as the mock logs it).',
  '/wxa/checksession': 'checkSessionKey: signature = hmac_sha256(session_key, ""), made on the server. errcode 87009 means WeChat replaced the session_key.',
  '/wxa/set_user_storage': 'A call signed with the session_key: signature = hmac_sha256(session_key, body).',
};

function statusClass(status, errcode) {
  if (status === 0) return 'status-none';
  if (errcode !== undefined && errcode !== 0) return 'status-refused';
  if (status < 300) return 'status-ok';
  if (status < 500) return 'status-refused';
  return 'status-failed';
}

function element(tag, attributes, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name === 'class') node.className = value;
    else node.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children) if (child !== undefined && child !== null) node.append(child);
  return node;
}

function wechatAnswer(call) {
  if (call.status === 0) return 'no answer in time';
  const errcode = call.errcode === undefined ? '' : ` · errcode ${call.errcode}`;
  return `${call.status}${errcode}`;
}

export class Diagram {
  constructor({ list, empty, details }) {
    this.list = list;
    this.empty = empty;
    this.details = details;
    /** The game's exchanges by id: { request, answer, rows }. */
    this.exchanges = new Map();
    this.selected = undefined;
  }

  clear() {
    this.list.replaceChildren();
    this.exchanges.clear();
    this.empty.hidden = false;
    this.selected = undefined;
  }

  add(event) {
    const follow = this.list.scrollHeight - this.list.scrollTop - this.list.clientHeight < 40;
    if (event.type === 'login') this.login(event);
    else if (event.type === 'request') this.request(event);
    else if (event.type === 'wechat') this.wechat(event);
    else if (event.type === 'answer') this.answer(event);
    else if (event.type === 'note') this.note(event);
    this.empty.hidden = this.list.children.length > 0;
    if (follow) this.list.scrollTop = this.list.scrollHeight;
  }

  /** One arrow: `from` -> `to`, with its label, as a button that shows `show()`. */
  arrow({ from, to, label, tag, status, errcode, device, kind, path, method, show }) {
    const deviceName = device ? DEVICE_NAMES[device] || device : undefined;
    const span = [from, to].sort().join('-');
    const rightwards = from === 'game' || (from === 'server' && to === 'wechat');
    const button = element(
      'button',
      {
        type: 'button',
        class: `arrow span-${span} ${rightwards ? 'to-right' : 'to-left'} ${status === undefined ? '' : statusClass(status, errcode)} kind-${kind}`,
        'aria-label': `${deviceName ? `${deviceName}, ` : ''}${PLACES[from]} to ${PLACES[to]}: ${label}${tag ? `, ${tag}` : ''}`,
      },
      element('span', { class: 'arrow-label' }, deviceName ? element('span', { class: 'device' }, deviceName) : undefined, element('span', { class: 'text' }, ...breakable(label)), tag ? element('span', { class: 'tag' }, tag) : undefined),
      element('span', { class: 'arrow-line', 'aria-hidden': 'true' }),
    );
    const row = element(
      'li',
      {
        class: 'row',
        'data-from': from,
        'data-to': to,
        'data-kind': kind,
        'data-device': device,
        'data-method': method,
        'data-path': path,
        'data-status': status === undefined ? undefined : String(status),
        'data-label': label + (tag ? ` ${tag}` : ''),
      },
      button,
    );
    button.addEventListener('click', () => this.select(button, show));
    this.list.append(row);
    return row;
  }

  select(button, show) {
    if (this.selected) this.selected.removeAttribute('aria-current');
    this.selected = button;
    button.setAttribute('aria-current', 'true');
    this.details.replaceChildren(...show());
    this.details.hidden = false;
  }

  login(event) {
    const show = () => [
      element('h3', { id: 'details-title' }, `wx.login() on ${DEVICE_NAMES[event.device]}`),
      element('p', {}, 'WeChat (here the mock) gives the game a one-time login code. The game sends it to your server, which redeems it with WeChat (code2Session) for the openid and the session_key.'),
      definitions([
        ['Call', 'wx.login()'],
        ['Answer', `{ code: ${event.code} }`],
      ]),
    ];
    this.arrow({ from: 'game', to: 'wechat', label: 'wx.login()', device: event.device, kind: 'wx-login', show });
    this.arrow({ from: 'wechat', to: 'game', label: `code ${event.code.split('…')[0]}…`, device: event.device, kind: 'wx-code', status: 200, show });
  }

  request(event) {
    const exchange = { request: event, answer: undefined, rows: [] };
    this.exchanges.set(event.id, exchange);
    const sentCode = event.headers.some(([name]) => name === 'x-wx-code');
    const row = this.arrow({
      from: 'game',
      to: 'server',
      label: `${event.method} ${event.path}`,
      tag: sentCode ? '+ X-WX-Code' : undefined,
      device: event.device,
      kind: 'request',
      method: event.method,
      path: event.path,
      show: () => this.showExchange(exchange),
    });
    row.classList.add('pending');
    exchange.rows.push(row);
  }

  wechat(event) {
    const show = () => [
      element('h3', { id: 'details-title' }, `Your server → WeChat: ${event.method} ${event.path}`),
      definitions([
        ['Method', event.method],
        ['Path', event.path],
        ['Status', event.status === 0 ? 'no answer before the server gave up' : String(event.status)],
        ['errcode', event.errcode === undefined ? '(none)' : String(event.errcode)],
      ]),
      element('h4', {}, 'Query'),
      pairs(event.query),
      element('h4', {}, 'Body'),
      element('pre', { class: 'body' }, event.body === undefined ? '(none)' : pretty(event.body)),
      WECHAT_NOTES[event.path] ? element('p', { class: 'note-text' }, WECHAT_NOTES[event.path]) : undefined,
      element('p', { class: 'note-text' }, "From the mock WeChat's own call log (mock.calls), which reads [redacted] for the AppSecret and the access token."),
    ];
    this.arrow({ from: 'server', to: 'wechat', label: `${event.method} ${event.path}`, kind: 'wechat-call', method: event.method, path: event.path, show });
    this.arrow({ from: 'wechat', to: 'server', label: wechatAnswer(event), kind: 'wechat-answer', path: event.path, status: event.status, errcode: event.errcode, show });
  }

  answer(event) {
    let exchange = this.exchanges.get(event.id);
    if (!exchange) {
      exchange = { request: undefined, answer: event, rows: [] };
      this.exchanges.set(event.id, exchange);
    }
    exchange.answer = event;
    for (const row of exchange.rows) row.classList.remove('pending');
    const reissued = event.headers.some(([name]) => name === 'x-wx-session-token');
    const label = event.status === 0 ? 'no answer' : `${event.status}${event.errorCode ? ` ${event.errorCode}` : ''}`;
    exchange.rows.push(
      this.arrow({
        from: 'server',
        to: 'game',
        label,
        tag: reissued ? '+ X-WX-Session-Token' : undefined,
        device: event.device,
        kind: 'answer',
        method: event.method,
        path: event.path,
        status: event.status,
        show: () => this.showExchange(exchange),
      }),
    );
  }

  note(event) {
    const row = element('li', { class: `row note on-${event.on}`, 'data-kind': 'note', 'data-on': event.on }, element('p', { class: 'note-box' }, event.text));
    this.list.append(row);
  }

  showExchange({ request, answer }) {
    const first = request || answer;
    const device = DEVICE_NAMES[first.device];
    const nodes = [
      element('h3', { id: 'details-title' }, `${device} → your server: ${first.method} ${first.path}`),
      definitions([
        ['Method', first.method],
        ['Path', first.path],
        ['Status', answer ? (answer.status === 0 ? 'no answer' : String(answer.status)) : 'waiting for the answer…'],
        ...(answer && answer.errorCode ? [['Code', answer.errorCode]] : []),
        ...(answer ? [['Time', `${answer.ms} ms`]] : []),
      ]),
      element('h4', {}, 'Request headers'),
      pairs(request ? request.headers : []),
      element('h4', {}, 'Request body'),
      element('pre', { class: 'body' }, answer && answer.requestBody !== undefined ? pretty(answer.requestBody) : answer ? '(none)' : '…'),
    ];
    if (answer) {
      nodes.push(element('h4', {}, 'Answer headers'), pairs(answer.headers), element('h4', {}, 'Answer body'), element('pre', { class: 'body' }, answer.body === undefined ? '(none)' : pretty(answer.body)));
    }
    nodes.push(element('p', { class: 'note-text' }, 'Tokens and login codes are shortened, as the terminal walk-through prints them.'));
    return nodes;
  }
}

/** A label as text with a line-break opportunity after each '/', for narrow screens. */
function breakable(label) {
  const parts = [];
  label.split(/(?<=\/)/).forEach((part, index) => {
    if (index > 0) parts.push(document.createElement('wbr'));
    parts.push(part);
  });
  return parts;
}

function definitions(entries) {
  return element('dl', { class: 'facts' }, ...entries.map(([name, value]) => element('div', {}, element('dt', {}, name), element('dd', {}, value))));
}

function pairs(entries) {
  if (entries.length === 0) return element('p', { class: 'none' }, '(none)');
  return element('dl', { class: 'pairs' }, ...entries.map(([name, value]) => element('div', {}, element('dt', {}, name), element('dd', {}, value))));
}

/** JSON indented for reading; other text as it is. */
function pretty(text) {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch (_) {
    return text;
  }
}
