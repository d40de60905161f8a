import { randomBytes } from 'node:crypto';
import { Metadata, status, type Client } from '@grpc/grpc-js';
import { AdmissionServiceService, BatchServiceService, BillingServiceService, CompleteResponse } from '@switchyard/contracts';
import { waitFor } from '@switchyard/testing';
import OpenAI, { toFile } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { batchEnded, chatLine, readResultLines } from '../support/batch-files.js';
import { rawCall, rawClient, requestOf, type RawAnswer, type RawMethod } from '../support/raw-grpc.js';
import { startSystem, type RunningSystem } from '../support/system.js';

/**
 * Scenario 7 of the security suite: tenant A's key against everything tenant B owns.
 *
 * The rule, the same on every surface: an id of another tenant's resource (a request, a
 * file, a batch) is answered exactly as an id that does not exist, NOT_FOUND / 404, so ids
 * cannot be probed; naming another tenant outright (billing's `tenant` field, the operator's
 * act-for header) is PERMISSION_DENIED / 403 whether or not that tenant exists. Headers that
 * mean nothing here (`x-tenant`, `tenant`) change nothing: the call runs as the key's tenant.
 */

let system: RunningSystem;
const clients = new Map<string, Client>();

const hex = (n: number) => randomBytes(n).toString('hex');
/** Strings only tenant B's data holds: in its prompt, its batch input file, and its idempotency key. */
const promptMarker = `bprompt${hex(8)}`;
const fileMarker = `bfile${hex(8)}`;
const idemB = `idem-b-${hex(6)}`;
const idemB2 = `idem-b2-${hex(6)}`;

interface TenantB {
  requestId: string;
  inputFileId: string;
  outputFileId: string;
  batchId: string;
  /** Request ids of B's batch lines: they appear only in B's output file. */
  batchRequestIds: string[];
}
let b: TenantB;

const bearer = (key: string, extra: Record<string, string> = {}) => {
  const m = new Metadata();
  m.set('authorization', `Bearer ${key}`);
  for (const [k, v] of Object.entries(extra)) m.set(k, v);
  return m;
};

const client = (address: string) => clients.get(address) ?? clients.set(address, rawClient(address)).get(address)!;

beforeAll(async () => {
  system = await startSystem({ batch: {} });
  const completeB = AdmissionServiceService.complete;
  const answer = await rawCall(
    client(system.admissionAddress),
    completeB,
    requestOf(completeB, { model: 'llama-3.1-8b', prompt: `B's secret project ${promptMarker}`, maxTokens: 4, idempotencyKey: idemB }),
    bearer(system.otherApiKey),
  );
  expect(answer.code).toBe(status.OK);
  const requestId = CompleteResponse.decode(answer.messages[0]!).requestId;

  const chatB = await fetch(`${system.httpUrl}/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${system.otherApiKey}`, 'content-type': 'application/json', 'idempotency-key': idemB2 },
    body: JSON.stringify({ model: 'llama-3.1-8b', messages: [{ role: 'user', content: `B again, ${promptMarker}` }], max_tokens: 4 }),
  });
  expect(chatB.status).toBe(200);

  const openaiB = new OpenAI({ apiKey: system.otherApiKey, baseURL: system.httpUrl, maxRetries: 0 });
  const lines = [chatLine('b-1', `B's batch line about ${fileMarker}`), chatLine('b-2', `more of ${fileMarker}`)];
  const file = await openaiB.files.create({ file: await toFile(Buffer.from(`${lines.join('\n')}\n`), 'b.jsonl'), purpose: 'batch' });
  const created = await openaiB.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
  const ended = await batchEnded(openaiB, created.id, 60_000);
  expect(ended.status).toBe('completed');
  const results = await readResultLines(openaiB, ended.output_file_id);
  b = {
    requestId,
    inputFileId: file.id,
    outputFileId: ended.output_file_id!,
    batchId: created.id,
    batchRequestIds: results.map((r) => r.response!.request_id),
  };
  // B has billing data to steal once its calls are on the ledger.
  await waitFor(
    "B's usage is on the ledger",
    async () => {
      const [row] = await system.sql<{ n: string }[]>`SELECT count(*) AS n FROM ledger_transactions WHERE request_id = ${requestId}`;
      return Number(row!.n) > 0 ? true : undefined;
    },
    30_000,
  );
}, 90_000);
afterAll(async () => {
  for (const c of clients.values()) c.close();
  await system?.stop();
});

/** What one probe got back, reduced to what the checks need. */
interface Probe {
  readonly name: string;
  readonly outcome: string;
  /** The answer with the id the caller sent replaced by `<id>`: equal for B's id and an unknown one. */
  readonly normalized: string;
  /** Every byte of the answer as text, to search for B's data. */
  readonly text: string;
}

const grpcProbe = async (name: string, address: string, method: RawMethod & Parameters<typeof requestOf>[0], fields: object, metadata: Metadata, id = '') => {
  const a: RawAnswer = await rawCall(client(address), method, requestOf(method, fields), metadata);
  const text = `${a.details}\n${a.messages.map((m) => m.toString('latin1')).join('\n')}`;
  const outcome = a.code === status.OK ? 'OK' : (status[a.code] ?? String(a.code));
  return { name, outcome, normalized: `${outcome} ${id ? a.details.replaceAll(id, '<id>') : a.details}`, text } satisfies Probe;
};

const httpProbe = async (name: string, method: string, path: string, headers: Record<string, string>, body?: unknown, id = '') => {
  const res = await fetch(`${system.httpUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${system.apiKey}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { name, outcome: String(res.status), normalized: `${res.status} ${id ? text.replaceAll(id, '<id>') : text}`, text } satisfies Probe;
};

const forged = { 'x-tenant': 'globex', tenant: 'globex', 'x-tenant-id': 'globex' };

describe('isolation', () => {
  it("denies tenant A every read of tenant B's requests, files, batches and billing, the same way as for ids that do not exist, and returns none of B's bytes", async () => {
    const A = system.apiKey;
    const fake = { request: `req_${hex(12)}`, file: `file-${hex(12)}`, batch: `batch_${hex(12)}` };
    const adm = AdmissionServiceService;
    const bat = BatchServiceService;
    const bil = BillingServiceService;

    /** Probes aimed at B's ids, each paired with the same probe at an id nobody has. */
    const paired: Array<[string, (id: string) => Promise<Probe>, string, string]> = [
      ['GetRequest', (id) => grpcProbe('GetRequest', system.admissionAddress, adm.getRequest, { requestId: id }, bearer(A), id), b.requestId, fake.request],
      [
        'GetRequest, forged tenant metadata',
        (id) => grpcProbe('GetRequest+forged', system.admissionAddress, adm.getRequest, { requestId: id }, bearer(A, forged), id),
        b.requestId,
        fake.request,
      ],
      ['GetBatch', (id) => grpcProbe('GetBatch', system.batchAddress!, bat.getBatch, { batchId: id }, bearer(A), id), b.batchId, fake.batch],
      ['CancelBatch', (id) => grpcProbe('CancelBatch', system.batchAddress!, bat.cancelBatch, { batchId: id }, bearer(A), id), b.batchId, fake.batch],
      [
        'GetBatchResults',
        (id) => grpcProbe('GetBatchResults', system.batchAddress!, bat.getBatchResults, { batchId: id }, bearer(A, forged), id),
        b.batchId,
        fake.batch,
      ],
      [
        'SubmitBatch on B file',
        (id) => grpcProbe('SubmitBatch', system.batchAddress!, bat.submitBatch, { inputFileId: id, endpoint: '/v1/chat/completions' }, bearer(A), id),
        b.inputFileId,
        fake.file,
      ],
      ['GET /v1/batches/{id}', (id) => httpProbe('GET batch', 'GET', `/batches/${id}`, {}, undefined, id), b.batchId, fake.batch],
      ['GET /v1/batches/{id}, forged headers', (id) => httpProbe('GET batch+forged', 'GET', `/batches/${id}`, forged, undefined, id), b.batchId, fake.batch],
      [
        'GET /v1/batches/{id}, act-for header',
        (id) => httpProbe('GET batch+act-for', 'GET', `/batches/${id}`, { 'x-switchyard-tenant': 'globex' }, undefined, id),
        b.batchId,
        fake.batch,
      ],
      ['POST /v1/batches/{id}/cancel', (id) => httpProbe('cancel batch', 'POST', `/batches/${id}/cancel`, {}, undefined, id), b.batchId, fake.batch],
      [
        'POST /v1/batches on B file',
        (id) => httpProbe('create batch', 'POST', '/batches', {}, { input_file_id: id, endpoint: '/v1/chat/completions', completion_window: '24h' }, id),
        b.inputFileId,
        fake.file,
      ],
      ['GET /v1/files/{id}', (id) => httpProbe('GET file', 'GET', `/files/${id}`, {}, undefined, id), b.inputFileId, fake.file],
      ['GET /v1/files/{input}/content', (id) => httpProbe('GET input content', 'GET', `/files/${id}/content`, forged, undefined, id), b.inputFileId, fake.file],
      ['GET /v1/files/{output}/content', (id) => httpProbe('GET output content', 'GET', `/files/${id}/content`, {}, undefined, id), b.outputFileId, fake.file],
      ['DELETE /v1/files/{id}', (id) => httpProbe('DELETE file', 'DELETE', `/files/${id}`, {}, undefined, id), b.inputFileId, fake.file],
      ...(['getBalance', 'getInvoice', 'listUsageRollups', 'getBudget', 'listReservations', 'listEntries'] as const).map(
        (m) =>
          [
            `Billing ${m} for B`,
            (tenant: string) => grpcProbe(m, system.billingAddress, bil[m], { tenant }, bearer(A), tenant),
            'globex',
            `nobody-${hex(4)}`,
          ] as [string, (id: string) => Promise<Probe>, string, string],
      ),
      ...(['setBudget', 'addCredit', 'createReservation'] as const).map(
        (m) =>
          [
            `Billing ${m} for B`,
            (tenant: string) => grpcProbe(m, system.billingAddress, bil[m], { tenant, hardLimitMicros: 1, amountMicros: 1, gpus: 1 }, bearer(A), tenant),
            'globex',
            `nobody-${hex(4)}`,
          ] as [string, (id: string) => Promise<Probe>, string, string],
      ),
      [
        'GetBatch, act-for metadata',
        (tenant) =>
          grpcProbe('GetBatch+act-for', system.batchAddress!, bat.getBatch, { batchId: b.batchId }, bearer(A, { 'x-switchyard-tenant': tenant }), tenant),
        'globex',
        `nobody-${hex(4)}`,
      ],
      [
        'GetInvoice, act-for metadata',
        (tenant) => grpcProbe('GetInvoice+act-for', system.billingAddress, bil.getInvoice, {}, bearer(A, { 'x-switchyard-tenant': tenant }), tenant),
        'globex',
        `nobody-${hex(4)}`,
      ],
      [
        'POST /v1/chat/completions, act-for header',
        (tenant) =>
          httpProbe(
            'chat+act-for',
            'POST',
            '/chat/completions',
            { 'x-switchyard-tenant': tenant },
            { model: 'llama-3.1-8b', messages: [{ role: 'user', content: 'hi' }] },
            tenant,
          ),
        'globex',
        `nobody-${hex(4)}`,
      ],
    ];
    const denied: Probe[] = [];
    const differences: string[] = [];
    for (const [name, probe, bId, unknownId] of paired) {
      const [forB, forNobody] = [await probe(bId), await probe(unknownId)];
      denied.push(forB);
      if (forB.normalized !== forNobody.normalized) differences.push(`${name}: ${forB.normalized.slice(0, 160)} | ${forNobody.normalized.slice(0, 160)}`);
    }
    denied.push(await grpcProbe('GetFleetReport', system.billingAddress, bil.getFleetReport, {}, bearer(A)));

    // Calls that name no other tenant run as A: they must not show B a byte.
    const ownReads: Probe[] = [
      await grpcProbe('ListBatches+forged', system.batchAddress!, bat.listBatches, {}, bearer(A, forged)),
      await grpcProbe('ListEntries by B request id', system.billingAddress, bil.listEntries, { requestId: b.requestId }, bearer(A, forged)),
      await grpcProbe('GetInvoice+forged', system.billingAddress, bil.getInvoice, {}, bearer(A, forged)),
      await grpcProbe('ListUsageRollups+forged', system.billingAddress, bil.listUsageRollups, {}, bearer(A, forged)),
      await grpcProbe('ListReservations', system.billingAddress, bil.listReservations, {}, bearer(A, forged)),
      await httpProbe('GET files+forged', 'GET', '/files', forged),
      await httpProbe('GET batches+forged', 'GET', '/batches', forged),
    ];
    // B's idempotency keys are B's alone: A with the same key and B's very body gets a request
    // of its own, and with another body no conflict (which would tell A the key is in use).
    const sameKey = await rawCall(
      client(system.admissionAddress),
      adm.complete,
      requestOf(adm.complete, { model: 'llama-3.1-8b', prompt: `B's secret project ${promptMarker}`, maxTokens: 4, idempotencyKey: idemB }),
      bearer(A, forged),
    );
    const otherBody = await httpProbe(
      'chat with B idempotency key',
      'POST',
      '/chat/completions',
      { 'idempotency-key': idemB2, ...forged },
      { model: 'llama-3.1-8b', messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 },
    );
    ownReads.push(otherBody);

    // B's file is still there: A's DELETE deleted nothing.
    const stillThere = await fetch(`${system.httpUrl}/files/${b.inputFileId}/content`, { headers: { authorization: `Bearer ${system.otherApiKey}` } });
    expect(await stillThere.text()).toContain(fileMarker);

    const markers = [promptMarker, fileMarker, idemB, idemB2, b.outputFileId, ...b.batchRequestIds];
    const leaks = [...denied, ...ownReads].flatMap((p) =>
      markers.filter((m) => p.text.includes(m) && !p.name.startsWith('GET output')).map((m) => `${m} in ${p.name}`),
    );
    // The output file's own id is what that probe sent; its content (B's request ids) must not come back.
    const outputProbe = denied.find((p) => p.name === 'GET output content')!;
    leaks.push(...b.batchRequestIds.filter((id) => outputProbe.text.includes(id)).map((id) => `${id} in GET output content`));

    const tally = new Map<string, number>();
    for (const p of denied) tally.set(p.outcome, (tally.get(p.outcome) ?? 0) + 1);
    const refusedOk = denied.filter((p) => ['NOT_FOUND', 'PERMISSION_DENIED', '404', '403'].includes(p.outcome)).length;
    console.log(
      `isolation: ${denied.length} probes at tenant B's ids and tenant: denied ${refusedOk}/${denied.length} (${[...tally].map(([k, n]) => `${k} ${n}`).join(', ')}), ` +
        `answers that differ from an unknown id's ${differences.length}; ${ownReads.length + 1} own-tenant calls with forged headers; ` +
        `bytes of B's data in any answer: ${leaks.length}`,
    );
    expect(
      denied.filter((p) => !['NOT_FOUND', 'PERMISSION_DENIED', '404', '403'].includes(p.outcome)).map((p) => `${p.name}: ${p.normalized.slice(0, 200)}`),
    ).toEqual([]);
    // Ids answer NOT_FOUND, tenant names PERMISSION_DENIED: never the other way round.
    for (const p of denied) {
      const namesTenant = /^(get|list|set|add|create)[A-Z]/.test(p.name) || p.name.includes('act-for') || p.name === 'GetFleetReport';
      expect.soft(['PERMISSION_DENIED', '403'].includes(p.outcome), `${p.name}: ${p.outcome}`).toBe(namesTenant);
    }
    expect(differences).toEqual([]);
    expect(leaks).toEqual([]);
    expect(ownReads.filter((p) => !['OK', '200'].includes(p.outcome)).map((p) => `${p.name}: ${p.normalized.slice(0, 200)}`)).toEqual([]);
    expect(sameKey.code).toBe(status.OK);
    expect(CompleteResponse.decode(sameKey.messages[0]!).requestId).not.toBe(b.requestId);
  });
});
