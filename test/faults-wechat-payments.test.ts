// Fault matrix, WeChat (test/support/wechat-faults.ts), for the mini-game virtual payment
// (docs/payments.md) through the player routes: getbalance, pay, cancelpay and present. Under every
// fault: 504 WX_UPSTREAM_TIMEOUT when late or never, 502 WX_UPSTREAM_ERROR otherwise (with
// WeChat's errcode when it gave one), no session marked stale, the stored records unchanged, and
// the same call (same billNo) then goes through, never moving coins twice. Pay also: -1 is
// retried with the same bytes and bill_no (one debit); a pay that lands after the timeout makes
// the retry 502 errcode 90012, still one debit.
import { expect } from 'chai';
import type { Response } from 'supertest';
import { describeUpstream, everyAdapter, expectError, expectUpstreamError, FAULTS, H, TIMEOUT } from './support/wechat-faults.js';
import { BALANCE, CANCEL, PAY, PRESENT, playerBench, type PlayerFaultBench } from './support/wechat-faults-player.js';

const DUPLICATE = 90012;
const START = 100;
const AMOUNT = 7;

/** A buy of AMOUNT coins by `token` in `zoneId`. */
const buy = (bench: PlayerFaultBench, token: string, zoneId: string, billNo: string): PromiseLike<Response> =>
  bench.player.http.post('/me/buy').set(H, token).send({ billNo, amount: AMOUNT, zoneId, payitem: 'sword', remark: '剑 ⚔' });

/** After a failed pay, the retry with the same billNo: 200 debiting once, or 90012 when the first one landed after all. */
function expectPaidOnce(res: Response, billNo: string): void {
  if (res.status === 200) expect(res.body).to.include({ billNo, balance: START - AMOUNT });
  else expectError(res, 502, 'WX_UPSTREAM_ERROR', DUPLICATE);
}

everyAdapter('the virtual payment', (bench) => {
  describe('getbalance (session.payments.balance)', () => {
    for (const { name: what, fault, kind } of FAULTS) {
      it(`${what} -> ${describeUpstream(kind)}; the balance then comes`, async () => {
        const { mock, player } = bench;
        const one = bench.existing[0]!;
        const zone = bench.newZone();
        mock.setBalance(one.openid, zone, 42);
        const ask = () => player.http.get(`/me/balance?zoneId=${zone}`).set(H, one.token);
        expectUpstreamError(await bench.cell(BALANCE, kind, fault, ask), kind);

        const again = await ask();
        expect(again.status, JSON.stringify(again.body)).to.equal(200);
        expect(again.body).to.include({ balance: 42 });
        bench.expectRecordKept(one, 'after the balance');
      });
    }
  });

  describe('pay (session.payments.pay)', () => {
    for (const [index, { name: what, fault, kind }] of FAULTS.entries()) {
      it(`${what} -> ${describeUpstream(kind)}; the retry with the same billNo debits once`, async () => {
        const { mock } = bench;
        const one = bench.existing[1]!;
        const zone = bench.newZone();
        const billNo = `pay-${bench.name}-${index}`;
        mock.setBalance(one.openid, zone, START);
        expectUpstreamError(await bench.cell(PAY, kind, fault, () => buy(bench, one.token, zone, billNo)), kind);
        // Only a late answer lets the first pay through (WeChat applies it after our timeout), and it lands after the retry unless the machine stalls.
        const landsLate = 'delay' in fault;
        if (!landsLate) expect(mock.balanceOf(one.openid, zone).balance, 'nothing debited by the failed call').to.equal(START);

        const again = await buy(bench, one.token, zone, billNo);
        if (landsLate) {
          expectPaidOnce(again, billNo);
          // Whichever came second, WeChat answered it 90012.
          expect((await bench.landed(PAY)).errcode, 'the late pay, landing').to.equal(again.status === 200 ? DUPLICATE : 0);
        } else {
          expect(again.status, JSON.stringify(again.body)).to.equal(200);
          expect(again.body).to.include({ billNo, balance: START - AMOUNT });
        }
        bench.expectAppliedOnce(one.openid, zone, billNo);
        expect(mock.balanceOf(one.openid, zone).balance).to.equal(START - AMOUNT);
        bench.expectRecordKept(one, 'after the pay');
      });
    }

    it('-1 is retried with the same bytes and bill_no: 200, one debit, nothing marked stale', async () => {
      const { mock } = bench;
      const one = bench.existing[1]!;
      const zone = bench.newZone();
      mock.setBalance(one.openid, zone, START);
      mock.resetCalls();
      mock.fault(PAY, { errcode: -1 }, { times: 1 });
      const res = await buy(bench, one.token, zone, 'busy-1');
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      expect(res.body).to.include({ billNo: 'busy-1', balance: START - AMOUNT });
      const [first, second, ...more] = mock.callsTo(PAY);
      expect(more, 'two attempts').to.have.length(0);
      expect([first?.errcode, second?.errcode]).to.deep.equal([-1, 0]);
      expect(second!.body, 'the same body bytes').to.equal(first!.body);
      expect(JSON.parse(second!.body!).bill_no).to.equal('busy-1');
      expect(second!.query, 'the same signatures').to.deep.equal(first!.query);
      bench.expectAppliedOnce(one.openid, zone, 'busy-1');
      await bench.expectExistingIntact('after the retried pay');
    });

    it('a pay that lands after the timeout: 504, then the retry with the same billNo is 502 errcode 90012, one debit', async () => {
      const { mock } = bench;
      const one = bench.existing[1]!;
      const zone = bench.newZone();
      mock.setBalance(one.openid, zone, START);
      // Late, but landing soon after the timeout (FAULTS' late one takes 1.5 s more), to keep the matrix short.
      const late = { delay: TIMEOUT + 150 };
      expectUpstreamError(await bench.cell(PAY, 'timeout', late, () => buy(bench, one.token, zone, 'late-1')), 'timeout');
      expect((await bench.landed(PAY)).errcode, 'WeChat applied the late pay').to.equal(0);
      expectError(await buy(bench, one.token, zone, 'late-1'), 502, 'WX_UPSTREAM_ERROR', DUPLICATE);
      bench.expectAppliedOnce(one.openid, zone, 'late-1');
      expect(mock.balanceOf(one.openid, zone).balance).to.equal(START - AMOUNT);
      await bench.expectExistingIntact('after the duplicate');
    });
  });

  describe('cancelpay (session.payments.cancel)', () => {
    for (const [index, { name: what, fault, kind }] of FAULTS.entries()) {
      it(`${what} -> ${describeUpstream(kind)}; the retry with the same billNo refunds once`, async () => {
        const { mock, player } = bench;
        const one = bench.existing[2]!;
        const zone = bench.newZone();
        const payBillNo = `paid-${bench.name}-${index}`;
        const billNo = `refund-${bench.name}-${index}`;
        mock.setBalance(one.openid, zone, START);
        expect((await buy(bench, one.token, zone, payBillNo)).status).to.equal(200);
        const cancel = () => player.http.post('/me/cancel').set(H, one.token).send({ billNo, payBillNo, amount: AMOUNT, zoneId: zone });
        expectUpstreamError(await bench.cell(CANCEL, kind, fault, cancel), kind);

        const again = await cancel();
        if (again.status !== 200) expectError(again, 502, 'WX_UPSTREAM_ERROR', DUPLICATE);
        else expect(again.body).to.include({ billNo, balance: START });
        if ('delay' in fault) expect((await bench.landed(CANCEL)).errcode, 'the late one, landing').to.equal(again.status === 200 ? DUPLICATE : 0);
        bench.expectAppliedOnce(one.openid, zone, billNo);
        expect(mock.balanceOf(one.openid, zone).balance).to.equal(START);
        bench.expectRecordKept(one, 'after the refund');
      });
    }
  });

  describe('present (session.payments.present)', () => {
    for (const [index, { name: what, fault, kind }] of FAULTS.entries()) {
      it(`${what} -> ${describeUpstream(kind)}; the retry with the same billNo credits once`, async () => {
        const { mock, player } = bench;
        const one = bench.existing[0]!;
        const zone = bench.newZone();
        const billNo = `gift-${bench.name}-${index}`;
        const give = () => player.http.post('/me/present').set(H, one.token).send({ billNo, amount: AMOUNT, zoneId: zone });
        expectUpstreamError(await bench.cell(PRESENT, kind, fault, give), kind);

        const again = await give();
        if (again.status !== 200) expectError(again, 502, 'WX_UPSTREAM_ERROR', DUPLICATE);
        else expect(again.body).to.deep.equal({ billNo, balance: AMOUNT });
        if ('delay' in fault) expect((await bench.landed(PRESENT)).errcode, 'the late one, landing').to.equal(again.status === 200 ? DUPLICATE : 0);
        bench.expectAppliedOnce(one.openid, zone, billNo);
        expect(mock.balanceOf(one.openid, zone)).to.deep.equal({ balance: AMOUNT, presentBalance: AMOUNT });
        bench.expectRecordKept(one, 'after the gift');
      });
    }
  });
}, playerBench);
