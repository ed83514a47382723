// Type fixture (compiled by test/types.test.ts against the BUILT declarations, never run):
// the session_key helpers on the session object (docs/api.md, "The session").
import type { InteractiveItem, StorageItem, WxSession } from 'wx-session';

export async function useHelpers(session: WxSession): Promise<void> {
  const signature: string = session.sign('{"k":1}');
  const signedBytes: string = session.sign(new Uint8Array([1, 2, 3]));
  const user: Record<string, unknown> = session.decrypt('encryptedData', 'iv');
  const valid: boolean = session.verifyRawData('rawData', 'signature');
  const fresh: boolean = await session.checkKey();
  const storage: StorageItem[] = [{ key: 'level', value: '3' }];
  await session.setUserStorage(storage);
  await session.setUserStorage([{ key: 'score', value: '100' }] as const);
  await session.removeUserStorage(['level']);
  const interactive: InteractiveItem[] = [{ key: '1', value: 10 }];
  await session.setUserInteractiveData(interactive);
  await session.save();
  const gone: boolean = session.destroyed;
  await session.destroy();
  void [signature, signedBytes, user, valid, fresh, gone];
}
