// RedisStore on a real Redis Cluster (six nodes, three shards, cluster-node-timeout 1000 ms), two
// stores on two Cluster clients, as two app instances (issue #10 part 9; DESIGN.md §8 "Redis
// Cluster is first-class"):
//   - read-your-write across instances: 200 logouts and 200 saves, read on the other instance
//     1, 5 and 20 ms after the acknowledgement: 0 stale at 5 ms (the 1 and 20 ms counts are logged);
//   - the master carrying the other instance's subscription for a slot is killed, or paused
//     (SIGSTOP): no logout acknowledged meanwhile or after the failover is answered from its cache;
//   - a slot migrated to another master while it is being written: no stale answer, and the
//     subscription follows the slot;
//   - a master killed: errors (the callers answer 503) during the failover, then it works again,
//     and no acknowledged write is lost: a save its replica could not confirm (WAIT) is refused;
//     the failover window and WAIT's cost are logged;
//   - writes go on the store's own connections: a WAIT never holds up a read on the user's client;
//     a master promoted by a failover (no replica until the old one rejoins) costs no WAIT
//     timeout; saves during the rejoin of the old master are not refused; a save still queued when
//     its caller was answered (a timeout) is never sent.
import { performance } from 'node:perf_hooks';
import { expect } from 'chai';
import { Redis, type Cluster } from 'ioredis';
import { RedisStore, type RedisStoreOptions } from '../src/redis.js';
import { keySlot as storeKeySlot, slotChannels } from '../src/stores/redis-slots.js';
import type { SessionRecord } from '../src/store.js';
import { sampleId, sampleRecord } from '../src/testing/index.js';
import { keySlot, requireRedisCluster, startRedisCluster, type ClusterNode, type RedisCluster } from './support-cluster.js';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const PREFIX = 'wxc:';

/** What an operation did: its value or that it failed. */
async function attempt<T>(op: () => Promise<T>): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
  try {
    return { ok: true, value: await op() };
  } catch (error) {
    return { ok: false, error };
  }
}

describe('RedisStore on a real Redis Cluster', function () {
  requireRedisCluster(this);
  this.timeout(30_000);

  let cluster: RedisCluster;
  let stores: RedisStore[] = [];
  let admins: Redis[] = [];

  function store(options: Omit<RedisStoreOptions, 'client'> & { client?: Cluster } = {}): RedisStore {
    const made = new RedisStore({ client: options.client ?? cluster.client(), prefix: PREFIX, ...options });
    stores.push(made);
    return made;
  }

  /** Two instances, each on its own Cluster client, both subscribed everywhere. */
  async function twoInstances(options: Omit<RedisStoreOptions, 'client'> = {}): Promise<[RedisStore, RedisStore]> {
    const a = store(options);
    const b = store(options);
    expect(await a.ready(), 'A subscribed on every master').to.equal(true);
    expect(await b.ready(), 'B subscribed on every master').to.equal(true);
    return [a, b];
  }

  /** A plain connection to one node (closed after the test). */
  function admin(node: ClusterNode): Redis {
    const made = new Redis({ host: '127.0.0.1', port: node.port, maxRetriesPerRequest: 0, retryStrategy: () => null });
    made.on('error', () => {});
    admins.push(made);
    return made;
  }

  /** `count` session ids whose keys are served by `master` (or, with `elsewhere`, by the other masters). */
  async function idsOn(master: ClusterNode, count: number, elsewhere = false): Promise<string[]> {
    const ranges = (await admin(master).cluster('SLOTS')) as unknown as [number, number, [string, number]][];
    const mine = ranges.filter(([, , [, port]]) => port === master.port);
    const ids: string[] = [];
    while (ids.length < count) {
      const id = sampleId();
      const slot = keySlot(`${PREFIX}${id}`);
      if (mine.some(([from, to]) => from <= slot && slot <= to) !== elsewhere) ids.push(id);
    }
    return ids;
  }

  /** Reads every id through `s` twice, so that it has them cached. */
  async function warm(s: RedisStore, ids: string[]): Promise<void> {
    for (let round = 0; round < 2; round++) await Promise.all(ids.map((id) => s.get(id)));
  }

  /** Retries a save of `id` until one is acknowledged (the failover is over for this client). */
  async function saveUntilAcknowledged(s: RedisStore, id: string, record: SessionRecord, within = 15_000): Promise<void> {
    const deadline = Date.now() + within;
    for (;;) {
      const result = await attempt(() => s.update(id, record, 60_000));
      if (result.ok && result.value) return;
      if (result.ok) throw new Error(`session ${id} is gone`);
      if (Date.now() > deadline) throw new Error(`saves still refused after ${within} ms: ${String((result.error as Error).message)}`);
      await sleep(20);
    }
  }

  /** Brings back a killed or paused node and waits until the cluster is whole again. */
  async function heal(node: ClusterNode): Promise<void> {
    if (node.paused) node.resume();
    if (!node.running) await node.restart();
    await cluster.waitUntilHealthy(20_000);
    await replicasConfirming();
  }

  /**
   * Waits until every master's replica confirms writes (WAIT 1). A replica fresh from a full
   * resynchronisation may confirm nothing for up to a second (Redis 7.0, diskless sync: its
   * master starts streaming on its next once-a-second report); a store whose connection to that
   * master is new has not seen it come online and waits for it strictly (see redis-writer.ts),
   * so the next test would start with refused writes.
   */
  async function replicasConfirming(within = 5000): Promise<void> {
    const deadline = Date.now() + within;
    for (const master of await cluster.masters()) {
      const conn = admin(master);
      const [id] = await idsOn(master, 1);
      for (;;) {
        // (a key of that master's: an id nobody uses, gone in a second)
        const results = await conn.pipeline().set(`${PREFIX}${id}`, '1', 'PX', 1000).wait(1, 100).exec();
        if (Number(results?.[1]?.[1]) >= 1) break;
        if (Date.now() > deadline) throw new Error(`the replica of :${master.port} confirms no write ${within} ms after the cluster healed`);
      }
    }
  }

  before(async function () {
    this.timeout(40_000);
    cluster = await startRedisCluster({ nodeTimeout: 1000 });
  });

  afterEach(async function () {
    this.timeout(30_000);
    for (const node of cluster.nodes) if (node.paused || !node.running) await heal(node);
    await Promise.all(stores.map((made) => made.close()));
    for (const made of admins) made.disconnect();
    stores = [];
    admins = [];
  });

  after(async () => {
    await cluster?.stop();
  });

  it('a logout or a save acknowledged on A is what B reads 1, 5 and 20 ms later (200 each): 0 stale at 5 ms', async () => {
    const [a, b] = await twoInstances();
    const counts: Record<string, number> = {};
    for (const delay of [1, 5, 20]) {
      let stale = 0;
      const rounds = Array.from({ length: 200 }, (_, i) => i);
      // 20 sessions at a time, spread over every slot and master.
      for (let start = 0; start < rounds.length; start += 20) {
        await Promise.all(
          rounds.slice(start, start + 20).map(async (i) => {
            const id = sampleId();
            const record = sampleRecord(60_000, { data: { v: 1 } });
            await a.set(id, record, 60_000);
            await b.get(id);
            await b.get(id); // B has it cached
            if (i % 2 === 0) {
              await a.destroy(id);
              await sleep(delay);
              if ((await b.get(id)) !== undefined) stale++;
            } else {
              expect(await a.update(id, { ...record, data: { v: 2 } }, 60_000)).to.equal(true);
              await sleep(delay);
              if ((await b.get(id))?.data.v !== 2) stale++;
            }
          }),
        );
      }
      counts[`${delay} ms`] = stale;
    }
    console.log(`      stale reads on B after an acknowledged logout/save on A (of 200): ${JSON.stringify(counts)}`);
    expect(counts['5 ms'], 'stale reads 5 ms after the acknowledgement').to.equal(0);
    expect(counts['20 ms'], 'stale reads 20 ms after the acknowledgement').to.equal(0);
  });

  for (const fault of ['killed', 'paused'] as const) {
    it(`the master carrying B's subscription for some slots ${fault}: B answers no logout acknowledged meanwhile or after the failover from its cache`, async () => {
      // A's client looks at the slot map every 500 ms by itself; B's (ioredis' default) only on
      // MOVED and closed connections, which a paused master never sends: B has nothing but its
      // own subscription's heartbeat to tell it its copies of that master's slots went stale.
      const a = store({ client: cluster.client({ slotsRefreshInterval: 500 }) });
      const b = store();
      expect(await a.ready(), 'A subscribed on every master').to.equal(true);
      expect(await b.ready(), 'B subscribed on every master').to.equal(true);
      const victim = await cluster.masterOf(`${PREFIX}${sampleId()}`);
      const onVictim = await idsOn(victim, 150);
      const elsewhere = await idsOn(victim, 150, true);
      const ids = [...onVictim, ...elsewhere];
      const records = new Map<string, SessionRecord>(ids.map((id) => [id, sampleRecord()]));
      await Promise.all(ids.map((id) => a.set(id, records.get(id)!, 60_000)));
      await sleep(20);
      await warm(b, ids);

      const started = Date.now();
      if (fault === 'killed') await victim.kill();
      else victim.pause();
      // Logouts right away: those on the failed master fail (503) until the failover, within the
      // store's timeout (1000 ms).
      const first = await Promise.all(ids.map(async (id) => ({ id, result: await attempt(() => a.destroy(id)) })));
      expect(Date.now() - started, 'ms until every logout was answered').to.be.below(1000 + 500);
      const acked = first.filter((entry) => entry.result.ok).map((entry) => entry.id);
      const pending = first.filter((entry) => !entry.result.ok).map((entry) => entry.id);
      const staleAtOnce = (await Promise.all(acked.map((id) => attempt(() => b.get(id))))).filter((read) => read.ok && read.value !== undefined).length;

      // Until the failover is done, the failed ones are retried; each acknowledged logout is read on B at once.
      let staleLater = 0;
      let failoverMs = 0;
      while (pending.length > 0) {
        if (Date.now() - started > 15_000) throw new Error(`${pending.length} logouts still failing 15 s after the master was ${fault}`);
        const id = pending[0]!;
        if ((await attempt(() => a.destroy(id))).ok) {
          pending.shift();
          failoverMs ||= Date.now() - started;
          const read = await attempt(() => b.get(id));
          if (read.ok && read.value !== undefined) staleLater++;
        } else {
          await sleep(20);
        }
      }
      let staleAfter = 0;
      for (const id of ids) if ((await b.get(id)) !== undefined) staleAfter++;
      console.log(
        `      master ${fault}: ${acked.length} logouts acknowledged at once, ${ids.length - acked.length} waited for the failover (first after ${failoverMs} ms); ` +
          `stale on B: ${staleAtOnce} at once, ${staleLater} during, ${staleAfter} after`,
      );
      expect(elsewhere.every((id) => acked.includes(id)), 'the logouts on the healthy masters were acknowledged at once').to.equal(true);
      expect(staleAtOnce, 'logouts acknowledged right after the fault, still answered by B').to.equal(0);
      expect(staleLater, 'logouts acknowledged by the promoted replica, still answered by B').to.equal(0);
      expect(staleAfter, 'logged-out sessions B still answers').to.equal(0);
      // B subscribes to the new master and uses its cache again.
      expect(await b.ready(5000), 'B subscribed again on every master').to.equal(true);
      const id = onVictim[0]!;
      await a.set(id, records.get(id)!, 60_000);
      await sleep(20);
      await warm(b, [id]);
      await a.destroy(id);
      expect(await b.get(id), 'a logout after B resubscribed').to.equal(undefined);
    });
  }

  it('a slot migrated to another master while it is written: B never answers a stale copy, and its subscription follows the slot', async () => {
    const [a, b] = await twoInstances();
    const from = await cluster.masterOf(`${PREFIX}${sampleId()}`);
    const to = (await cluster.masters()).find((master) => master.port !== from.port)!;
    const [id] = await idsOn(from, 1);
    const slot = keySlot(`${PREFIX}${id!}`);
    const record = sampleRecord(60_000, { data: { v: 0 } });
    await a.set(id!, record, 60_000);
    await sleep(20);
    await warm(b, [id!]);
    const version = async (v: number) => {
      expect(await a.update(id!, { ...record, data: { v } }, 60_000)).to.equal(true);
      const seen = await b.get(id!);
      expect(seen?.data.v, `B after save ${v}`).to.equal(v);
      await b.get(id!);
    };

    const source = admin(from);
    const target = admin(to);
    const [sourceId, targetId] = [(await source.cluster('MYID')) as string, (await target.cluster('MYID')) as string];
    await target.cluster('SETSLOT', slot, 'IMPORTING', sourceId);
    await source.cluster('SETSLOT', slot, 'MIGRATING', targetId);
    await version(1); // the key is still on the source
    const keys = (await source.cluster('GETKEYSINSLOT', slot, 100)) as string[];
    await source.migrate('127.0.0.1', to.port, '', 0, 5000, 'KEYS', ...keys);
    await version(2); // the key is on the target (ASK), the slot still the source's
    for (const master of await cluster.masters()) await admin(master).cluster('SETSLOT', slot, 'NODE', targetId);
    await version(3); // the slot is the target's (MOVED)
    expect(await b.ready(5000), "B subscribed to the slot's new master").to.equal(true);
    await version(4);
    await a.destroy(id!);
    expect(await b.get(id!)).to.equal(undefined);
  });

  it('a master killed: errors during the failover, then it works again, and no acknowledged write is lost (a save no replica confirmed is not acknowledged)', async () => {
    const s = store({ timeout: 500 });
    expect(await s.ready()).to.equal(true);
    const victim = await cluster.masterOf(`${PREFIX}${sampleId()}`);
    const [replica] = await cluster.replicasOf(victim);
    const ids = await idsOn(victim, 40);
    const acked = new Map<string, number>();
    for (const id of ids) {
      await s.set(id, sampleRecord(60_000, { data: { n: 0 } }), 60_000);
      acked.set(id, 0);
    }

    // WAIT: with its replica cut off (link closed, replica stalled so it cannot reconnect), the
    // master cannot have a save confirmed: it is not acknowledged (503), since the failover that
    // follows would lose it.
    const lagging = ids[0]!;
    replica!.pause();
    await admin(victim).call('CLIENT', 'KILL', 'TYPE', 'replica');
    const base = (await s.get(lagging))!;
    const unconfirmed = await attempt(() => s.update(lagging, { ...base, data: { n: 1 } }, 60_000));
    if (unconfirmed.ok) acked.set(lagging, 1);
    const killedAt = Date.now();
    await victim.kill();
    replica!.resume();

    // Saves keep coming (the callers answer 503 while they fail) until ten in a row went through.
    let n = 1;
    let failures = 0;
    let firstFailure = 0;
    let recovered = 0;
    let inARow = 0;
    while (inARow < 10) {
      if (Date.now() - killedAt > 15_000) throw new Error('saves still failing 15 s after the master was killed');
      n++;
      const id = ids[n % ids.length]!;
      const result = await attempt(async () => {
        const current = await s.get(id);
        if (!current) throw new Error(`session ${id} is gone`);
        if (!(await s.update(id, { ...current, data: { n } }, 60_000))) throw new Error(`session ${id} is gone`);
      });
      if (result.ok) {
        acked.set(id, n);
        inARow++;
        recovered ||= failures > 0 ? Date.now() - killedAt : 0;
      } else {
        if (String((result.error as Error).message).includes('is gone')) throw result.error;
        failures++;
        firstFailure ||= Date.now() - killedAt;
        inARow = 0;
        await sleep(20);
      }
    }
    console.log(`      master killed: ${failures} saves failed (from ${firstFailure} ms), saves work again ${recovered} ms after the kill`);
    expect(failures, 'saves failed during the failover').to.be.above(0);

    await heal(victim);
    const reader = store({ cache: false });
    const lost: string[] = [];
    for (const [id, value] of acked) {
      // A save that failed (503) may still have been applied: a later value is fine, an older one is a loss.
      const record = await reader.get(id);
      if (!(Number(record?.data.n) >= value)) lost.push(`${id.slice(0, 6)}: acknowledged ${value}, holds ${JSON.stringify(record?.data)}`);
    }
    expect(lost, 'acknowledged saves lost by the failover').to.deep.equal([]);
    expect(unconfirmed.ok, 'the save no replica confirmed was not acknowledged').to.equal(false);
  });

  it('keys and channels: every slot has a channel in it (CLUSTER KEYSLOT agrees), and close() ends only the connections the store opened', async () => {
    const client = cluster.client();
    const s = store({ client });
    expect(await s.ready()).to.equal(true);
    const node = admin((await cluster.masters())[0]!);
    // The store's subscription connections, by name, on every master.
    const watchers = async () => {
      let n = 0;
      for (const master of await cluster.masters()) n += ((await admin(master).call('CLIENT', 'LIST')) as string).split('\n').filter((line) => line.includes(`name=${PREFIX}watch`)).length;
      return n;
    };
    expect(await watchers(), 'one subscription connection per master').to.equal(3);
    // The store's write connections, by name (one per master a write went to).
    const writers = async () => {
      let n = 0;
      for (const master of await cluster.masters()) n += ((await admin(master).call('CLIENT', 'LIST')) as string).split('\n').filter((line) => line.includes(`name=${PREFIX}write`)).length;
      return n;
    };
    await Promise.all(Array.from({ length: 30 }, () => s.set(sampleId(), sampleRecord(), 60_000)));
    expect(await writers(), 'one write connection per master').to.equal(3);
    const subscribed = (await node.call('PUBSUB', 'SHARDCHANNELS', `${PREFIX}changed*`)) as string[];
    expect(subscribed.length, 'shard channels this master serves').to.be.above(5000);
    // The store's own slot arithmetic agrees with Redis: each slot's channel is in that slot.
    const channels = slotChannels(`${PREFIX}changed`);
    expect(channels.every((channel) => channel !== undefined)).to.equal(true);
    for (let slot = 0; slot < 16384; slot += 41) expect(await node.call('CLUSTER', 'KEYSLOT', channels[slot]!), `slot ${slot}`).to.equal(slot);
    for (const key of ['a', '{user1000}.following', 'foo{}{bar}', 'foo{{bar}}zap', '中文{x}', `${PREFIX}${sampleId()}`]) {
      expect(await node.call('CLUSTER', 'KEYSLOT', key), key).to.equal(storeKeySlot(key));
    }
    // A prefix with a hash tag of its own: every key and its one channel in that slot.
    const tagged = slotChannels('app{7}:changed');
    expect(tagged.filter((channel) => channel !== undefined)).to.have.length(1);
    expect(tagged[storeKeySlot('{7}')]).to.be.a('string');
    await s.close();
    expect(client.status, "the user's client stays open").to.equal('ready');
    expect(await watchers(), 'subscription connections left after close()').to.equal(0);
    expect(await writers(), 'write connections left after close()').to.equal(0);
  });

  it("a write's WAIT never holds up the user's client: with a master's replica stalled, reads there answer at once while the saves wait (and are refused)", async () => {
    const client = cluster.client();
    const s = store({ client });
    expect(await s.ready()).to.equal(true);
    const master = await cluster.masterOf(`${PREFIX}${sampleId()}`);
    const ids = await idsOn(master, 20);
    for (const id of ids) await s.set(id, sampleRecord(), 60_000);
    const [replica] = await cluster.replicasOf(master);
    replica!.pause(); // its master's WAITs run to their timeout (500 ms)
    let readMs: number[];
    let saves: Array<{ ok: boolean }>;
    try {
      const saving = Promise.all(ids.map((id) => attempt(() => s.update(id, sampleRecord(), 60_000))));
      await sleep(50); // the saves are waiting for the stalled replica
      readMs = [];
      for (const id of ids) {
        const started = performance.now();
        expect(await client.get(`${PREFIX}${id}`), 'the record').to.be.a('string');
        readMs.push(performance.now() - started);
      }
      saves = await saving;
    } finally {
      replica!.resume();
    }
    console.log(`      GET on the user's client while 20 saves WAIT for a stalled replica: max ${Math.max(...readMs).toFixed(1)} ms`);
    expect(Math.max(...readMs), 'ms for a read on the user client').to.be.below(100);
    // Strict where a replica exists: it could be promoted without these saves.
    expect(saves.filter((save) => save.ok), 'saves acknowledged without a replica').to.have.length(0);
  });

  it('a master promoted by a failover (no replica until the old one rejoins) costs no WAIT timeout: 20 concurrent saves there answer at once, none refused', async () => {
    const warm = store();
    expect(await warm.ready()).to.equal(true);
    const victim = await cluster.masterOf(`${PREFIX}${sampleId()}`);
    const ids = await idsOn(victim, 20);
    for (const id of ids) await warm.set(id, sampleRecord(60_000, { data: { n: 0 } }), 60_000);
    const [replica] = await cluster.replicasOf(victim);
    await victim.kill();
    await cluster.waitUntilHealthy(20_000);
    expect(await replica!.role(), 'the replica was promoted').to.equal('master');
    await saveUntilAcknowledged(warm, ids[0]!, sampleRecord(60_000, { data: { n: 1 } }));
    const fresh = store();
    expect(await fresh.ready()).to.equal(true);
    const timings: string[] = [];
    for (const [name, s] of [['a store that wrote there before', warm], ['a new store', fresh]] as const) {
      for (let round = 2; round < 5; round++) {
        const started = performance.now();
        const results = await Promise.all(ids.map((id) => attempt(() => s.update(id, sampleRecord(60_000, { data: { n: round } }), 60_000))));
        const ms = performance.now() - started;
        timings.push(`${name} ${ms.toFixed(0)} ms`);
        expect(results.filter((result) => !result.ok).map((result) => String((result as { error: Error }).error.message)), `${name}: refused saves`).to.deep.equal([]);
        expect(ms, `${name}: ms for 20 concurrent saves on the promoted master`).to.be.below(250);
      }
    }
    console.log(`      20 concurrent saves on a promoted master without a replica: ${timings.join(', ')}`);
  });

  it('saves while the killed master restarts and rejoins as a replica are not refused (a replica fresh from its resynchronisation)', async () => {
    const s = store();
    expect(await s.ready()).to.equal(true);
    const victim = await cluster.masterOf(`${PREFIX}${sampleId()}`);
    const ids = await idsOn(victim, 20);
    for (const id of ids) await s.set(id, sampleRecord(), 60_000);
    await victim.kill();
    await cluster.waitUntilHealthy(20_000);
    await saveUntilAcknowledged(s, ids[0]!, sampleRecord());
    let saving = true;
    const refused: string[] = [];
    let acknowledged = 0;
    const savers = ids.map(async (id) => {
      while (saving) {
        const result = await attempt(() => s.update(id, sampleRecord(), 60_000));
        if (result.ok) acknowledged++;
        else refused.push(String((result.error as Error).message));
        await sleep(Math.random() * 5);
      }
    });
    await sleep(200);
    await victim.restart();
    await cluster.waitUntilHealthy(20_000);
    expect(await victim.role(), 'the old master rejoined as a replica').to.equal('replica');
    await sleep(1500);
    saving = false;
    await Promise.all(savers);
    console.log(`      saves during the rejoin: ${acknowledged} acknowledged, ${refused.length} refused`);
    expect(refused, 'saves refused while the old master rejoined').to.deep.equal([]);
  });

  it('a save still queued when its caller was answered (a timeout) is never sent: it cannot land later, over newer writes', async () => {
    // (A Cluster client keeps a command meant for a master that stopped answering, and may run it
    // seconds later, when the address answers again: over saves acknowledged meanwhile. The
    // store's own write connections drop what was not sent in time, and never resend.)
    const s = store({ timeout: 200 });
    expect(await s.ready()).to.equal(true);
    const master = await cluster.masterOf(`${PREFIX}${sampleId()}`);
    const [id] = await idsOn(master, 1);
    await s.set(id!, sampleRecord(60_000, { data: { n: 0 } }), 60_000);
    master.pause(); // shorter than the node timeout: no failover
    try {
      const first = attempt(() => s.update(id!, sampleRecord(60_000, { data: { n: 1 } }), 60_000));
      await sleep(20); // sent, waiting for the stalled master
      const second = attempt(() => s.update(id!, sampleRecord(60_000, { data: { n: 2 } }), 60_000));
      const results = await Promise.all([first, second]);
      expect(results.filter((result) => result.ok), 'saves acknowledged by a stalled master').to.have.length(0);
      await sleep(100);
    } finally {
      master.resume();
    }
    await sleep(300);
    const reader = store({ cache: false });
    // The first was sent: it may have landed (an unacknowledged save may). The second never was.
    expect((await reader.get(id!))?.data.n, 'the save answered before it was sent').to.not.equal(2);
  });

  it("a Cluster client that reads from replicas is refused (a replica answers before it has the latest write)", () => {
    const client = cluster.client({ scaleReads: 'slave' });
    expect(() => new RedisStore({ client })).to.throw(TypeError, /scaleReads/);
  });

  it("WAIT's cost: one round trip either way (logged)", async () => {
    const waiting = store();
    const notWaiting = store({ wait: false });
    expect(await waiting.ready()).to.equal(true);
    expect(await notWaiting.ready()).to.equal(true);
    const time = async (s: RedisStore) => {
      const started = performance.now();
      for (let i = 0; i < 300; i++) await s.set(sampleId(), sampleRecord(), 60_000);
      return (performance.now() - started) / 300;
    };
    await time(waiting); // warm up
    const [withWait, without] = [await time(waiting), await time(notWaiting)];
    console.log(`      set(): ${withWait.toFixed(3)} ms with WAIT 1, ${without.toFixed(3)} ms without (mean of 300, sequential)`);
    expect(withWait).to.be.below(without + 5);
  });
});
