// WeChat's documented limits on the mini-game storage APIs, checked before calling WeChat so a
// bad write answers WX_BAD_REQUEST at once instead of an upstream errcode.
import { WxSessionError } from '../errors.js';

export const MAX_PAIRS = 128;
export const MAX_KEY_BYTES = 128;
export const MAX_PAIR_BYTES = 1024;
const INTERACTIVE_KEY = /^(?:[1-9]|[1-4][0-9]|50)$/;

export interface StorageItem {
  key: string;
  value: string;
}

export interface InteractiveItem {
  key: string;
  value: number;
}

function bad(message: string): never {
  throw new WxSessionError('WX_BAD_REQUEST', { message });
}

function checkList(list: unknown, what: string): unknown[] {
  if (!Array.isArray(list)) bad(`${what} must be an array`);
  if (list.length === 0) bad(`${what} must not be empty`);
  if (list.length > MAX_PAIRS) bad(`${what} holds more than ${MAX_PAIRS} entries`);
  return list;
}

function checkKey(key: unknown): string {
  if (typeof key !== 'string' || key.length === 0) bad('every key must be a non-empty string');
  if (Buffer.byteLength(key) > MAX_KEY_BYTES) bad(`a key is longer than ${MAX_KEY_BYTES} bytes`);
  return key;
}

/** `[{ key, value }]` for set_user_storage: strings, key <= 128 bytes, key + value <= 1024 bytes. */
export function storageItems(list: unknown): StorageItem[] {
  return checkList(list, 'kvList').map((item) => {
    const { key, value } = (item ?? {}) as Partial<StorageItem>;
    checkKey(key);
    if (typeof value !== 'string') bad('every value must be a string');
    if (Buffer.byteLength(key as string) + Buffer.byteLength(value) > MAX_PAIR_BYTES) bad(`a key and its value exceed ${MAX_PAIR_BYTES} bytes`);
    return { key: key as string, value };
  });
}

/** Keys for remove_user_storage. */
export function storageKeys(list: unknown): string[] {
  return checkList(list, 'keys').map(checkKey);
}

/** `[{ key: "1".."50", value: integer }]` for setuserinteractivedata. */
export function interactiveItems(list: unknown): InteractiveItem[] {
  return checkList(list, 'kvList').map((item) => {
    const { key, value } = (item ?? {}) as Partial<InteractiveItem>;
    if (typeof key !== 'string' || !INTERACTIVE_KEY.test(key)) bad('interactive keys are the strings "1" to "50"');
    if (typeof value !== 'number' || !Number.isSafeInteger(value)) bad('interactive values must be integers');
    return { key, value };
  });
}
