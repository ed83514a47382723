// Type fixture (compiled by test/types.test.ts against the BUILT declarations, never run):
// the session_key's further APIs and mini-game payments (docs/api.md, "The session"), and
// signPayment.
import { signPayment, type EncryptedDataCheck, type PaymentBalance, type PaymentOptions, type PayResult, type PhoneNumber, type PresentResult, type WxSession, type WxSessionCore, type WxSessionOptions } from 'wx-session';

export const payment: PaymentOptions = { offerId: '1450000001', appKey: { production: 'p', sandbox: 's' }, env: 1 };
export const options: Pick<WxSessionOptions, 'payment'> = { payment: { offerId: '1450000001', appKey: 'k' } };

export async function usePlayerApis(core: WxSessionCore, session: WxSession): Promise<void> {
  await session.resetKey();
  const phone: PhoneNumber = await session.phoneNumber('code');
  const viaCore: PhoneNumber = await core.phoneNumber('code', { openid: session.openid });
  const country: string = phone.countryCode;
  const rank: number = await session.riskRank({ scene: 0, clientIp: '1.2.3.4', isTest: true });
  const check: EncryptedDataCheck = await core.checkEncryptedData('data');
  const valid: boolean = check.valid;
  const balance: PaymentBalance = await session.payments.balance({ zoneId: '1', userIp: '1.2.3.4' });
  const paid: PayResult = await session.payments.pay({ amount: 1, billNo: 'b1', zoneId: '1', userIp: '1.2.3.4', payitem: 'x', remark: 'y' });
  const refunded: PayResult = await session.payments.cancel({ amount: 1, billNo: 'r1', payBillNo: 'b1', zoneId: '1', userIp: '1.2.3.4' });
  const given: PresentResult = await session.payments.present({ amount: 1, billNo: 'g1', zoneId: '1', userIp: '1.2.3.4' });
  const paySig: string = signPayment({ uri: '/wxa/game/pay', body: '{}', appKey: 'k' });
  const coins: number = balance.balance + paid.usedPresentAmount + refunded.balance + given.balance;
  const first: boolean = balance.firstSave;
  void [viaCore, country, rank, valid, paySig, coins, first];
}
