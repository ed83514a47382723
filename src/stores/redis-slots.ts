// Redis Cluster key slots (CRC16/XMODEM of the key or its {hash tag}, mod 16384), and channel
// names that fall in a chosen slot, so an announcement published with SPUBLISH runs on the very
// master that holds the keys it is about.

export const SLOTS = 16384;

const TABLE = new Uint16Array(256);
for (let i = 0; i < 256; i++) {
  let crc = i << 8;
  for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  TABLE[i] = crc;
}

function crc16(bytes: Uint8Array, start: number, end: number): number {
  let crc = 0;
  for (let i = start; i < end; i++) crc = ((crc << 8) & 0xffff) ^ TABLE[((crc >> 8) ^ bytes[i]!) & 0xff]!;
  return crc;
}

const encoder = new TextEncoder();

/** The cluster slot of `key`, as Redis computes it (hash tags included). */
export function keySlot(key: string): number {
  const bytes = encoder.encode(key);
  const open = bytes.indexOf(0x7b); // {
  if (open !== -1) {
    const close = bytes.indexOf(0x7d, open + 1); // }
    if (close > open + 1) return crc16(bytes, open + 1, close) % SLOTS;
  }
  return crc16(bytes, 0, bytes.length) % SLOTS;
}

/** For each slot, a short hash tag that falls in it (computed once). */
let tags: string[] | undefined;
function slotTags(): string[] {
  if (tags) return tags;
  const found: string[] = new Array(SLOTS);
  let missing = SLOTS;
  for (let n = 0; missing > 0; n++) {
    const tag = n.toString(36);
    const slot = keySlot(tag);
    if (found[slot] === undefined) {
      found[slot] = tag;
      missing--;
    }
  }
  tags = found;
  return found;
}

const channelCache = new Map<string, Array<string | undefined>>();

/**
 * For each slot, the name of the channel `base` + something that falls in that slot (undefined
 * for a slot no such name reaches: only when `base` holds a hash tag of its own, and then no key
 * made from the same prefix can be in that slot either).
 */
export function slotChannels(base: string): Array<string | undefined> {
  const cached = channelCache.get(base);
  if (cached) return cached;
  let channels: Array<string | undefined>;
  if (!base.includes('{')) {
    channels = slotTags().map((tag) => `${base}{${tag}}`);
  } else if (base.indexOf('}', base.indexOf('{') + 1) > base.indexOf('{') + 1) {
    // The prefix holds a hash tag: every key and every channel made from it is in that one slot.
    channels = new Array<string | undefined>(SLOTS).fill(undefined);
    channels[keySlot(base)] = base;
  } else {
    // The prefix has braces of its own: find names by trying, whatever slots they reach.
    channels = new Array<string | undefined>(SLOTS).fill(undefined);
    let missing = SLOTS;
    for (let n = 0; missing > 0 && n < 400_000; n++) {
      const name = `${base}{${n.toString(36)}}`;
      const slot = keySlot(name);
      if (channels[slot] === undefined) {
        channels[slot] = name;
        missing--;
      }
    }
  }
  channelCache.set(base, channels);
  return channels;
}
