import { Metadata, type ServiceError } from '@grpc/grpc-js';
import { InvalidArgumentError, type Command } from 'commander';
import { BillingServiceClient, type GetFleetReportResponse, type Reservation } from '@switchyard/contracts';
import type { BillingTarget } from './billing-target.js';
import { findLocalEnv, readLocalEnv } from './local-env.js';
import { channelCredentials } from './tls-target.js';
import { table } from './table.js';
import { instant } from './cli-arguments.js';

interface Target {
  readonly billing?: string;
  readonly apiKey?: string;
}

/** Billing's address and an operator key: the options, then the environment, then `.switchyard/local.env`. */
export function billingTarget(o: Target, env: NodeJS.ProcessEnv): BillingTarget {
  const file = findLocalEnv();
  const local = file ? readLocalEnv(file) : {};
  const address = o.billing ?? env.SWITCHYARD_BILLING_ADDR ?? local.SWITCHYARD_BILLING_ADDR;
  const apiKey = o.apiKey ?? env.SWITCHYARD_API_KEY ?? local.SWITCHYARD_API_KEY;
  if (!address || !apiKey)
    throw new Error('no billing to call: run `pnpm start` first, or pass --billing and --api-key (or set SWITCHYARD_BILLING_ADDR and SWITCHYARD_API_KEY)');
  return { address, apiKey, credentials: channelCredentials(env) };
}

/** One unary billing call with the key, closed after. */
async function callBilling<Req, Res>(target: BillingTarget, rpc: 'createReservation' | 'listReservations' | 'getFleetReport', request: Req): Promise<Res> {
  const client = new BillingServiceClient(target.address, target.credentials);
  const metadata = new Metadata();
  metadata.set('authorization', `Bearer ${target.apiKey}`);
  try {
    return await new Promise<Res>((resolve, reject) =>
      (client[rpc] as unknown as (r: Req, m: Metadata, o: object, cb: (e: ServiceError | null, r?: Res) => void) => void).call(
        client,
        request,
        metadata,
        { deadline: Date.now() + 15_000 },
        (e, r) => (e ? reject(e) : resolve(r as Res)),
      ),
    );
  } finally {
    client.close();
  }
}

const positiveInt = (value: string) => {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n <= 0) throw new InvalidArgumentError('expected a positive whole number');
  return n;
};
const poolList = (value: string) => {
  const pools = value
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
  if (!pools.length) throw new InvalidArgumentError('expected pool ids separated by commas');
  return pools;
};
const month = (value: string) => {
  if (!/^\d{4}-(0[1-9]|1[0-2])$/.test(value)) throw new InvalidArgumentError('expected a month, YYYY-MM');
  return value;
};

const iso = (ms: number) => new Date(ms).toISOString().replace(':00.000Z', 'Z');
const money = (micros: number) => (micros / 1e6).toFixed(2);

/** Reservations as a table: period, GPUs, the fee per GPU-hour pinned at creation, the whole fee and what was charged so far. */
export function formatReservations(reservations: readonly Reservation[]): string {
  if (!reservations.length) return 'no reservations';
  return table([
    ['id', 'tenant', 'pools', 'model', 'gpus', 'start', 'end', '$/GPU-h', 'fee', 'charged', 'prices'],
    ...reservations.map((r) => [
      r.reservationId,
      r.tenant,
      r.pools.join(','),
      r.model,
      String(r.gpus),
      iso(r.startUnixMs),
      iso(r.endUnixMs),
      money(r.feePerGpuHourMicros),
      money(r.totalFeeMicros),
      money(r.feeChargedMicros),
      r.priceVersion,
    ]),
  ]);
}

/**
 * The fleet report as a table: per pool GPU-hours provisioned and used, utilisation and idle
 * cost. A per-token (provider) pool provisions no GPUs of the platform's, so those columns
 * read "-" and only what its tokens cost ("used") is shown.
 */
export function formatFleetReport(r: GetFleetReportResponse): string {
  const h = (s: number) => (s / 3600).toFixed(1);
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
  return [
    `fleet ${r.period} (${r.currency})`,
    table([
      ['pool', 'provider', 'class', 'priced', 'GPU-h provisioned', 'GPU-h used', 'utilisation', 'provisioned', 'used', 'idle accrued'],
      ...r.pools.map((p) =>
        p.costBasis === 'per-token'
          ? [p.pool, p.provider, p.capacityClass, 'per-token', '-', '-', '-', '-', money(p.usedCostMicros), '-']
          : [
              p.pool,
              p.provider,
              p.capacityClass,
              p.costBasis ? 'per GPU-h' : '-',
              h(p.provisionedGpuSeconds),
              h(p.usedGpuSeconds),
              pct(p.utilization),
              money(p.provisionedCostMicros),
              money(p.usedCostMicros),
              money(p.idleCostMicros),
            ],
      ),
      ['total', '', '', '', h(r.provisionedGpuSeconds), h(r.usedGpuSeconds), pct(r.utilization), '', '', money(r.idleCostMicros)],
    ]),
  ].join('\n');
}

/**
 * `switchyard reservation add|list` and `switchyard fleet`: tenant reservations of reserved
 * pools (their fee is charged per elapsed hour, and only the holder gets the reserved rate
 * there), and the provisioned fleet's utilisation and idle cost. Calls billing over gRPC with
 * an operator key.
 */
export function registerReservationCommands(program: Command, env: NodeJS.ProcessEnv): void {
  const target = [
    ['--billing <host:port>', 'billing gRPC address (default: SWITCHYARD_BILLING_ADDR, else .switchyard/local.env)'],
    ['--api-key <key>', 'an operator API key (default: SWITCHYARD_API_KEY, else .switchyard/local.env)'],
  ] as const;
  const reservation = program.command('reservation').description('reserve GPUs of reserved pools for a tenant, and list reservations');
  const add = reservation
    .command('add')
    .description('reserve GPUs of reserved pools (all serving one model) for a tenant and a period, at the price book in force now')
    .requiredOption('--tenant <tenant>', 'the tenant holding the reservation')
    .requiredOption('--pools <ids>', 'reserved pools, separated by commas', poolList)
    .requiredOption('--gpus <n>', 'GPUs reserved for the whole period', positiveInt)
    .requiredOption('--start <time>', 'period start (ISO time)', instant)
    .requiredOption('--end <time>', 'period end, exclusive (ISO time)', instant)
    .option('--id <id>', 'reservation id; repeating it with the same terms records nothing new (default: made up)')
    .option('--json', 'print the reservation as JSON');
  for (const [flag, help] of target) add.option(flag, help);
  add.action(async (o: { tenant: string; pools: string[]; gpus: number; start: number; end: number; id?: string; json?: boolean } & Target) => {
    const r = await callBilling<object, { reservation: Reservation; duplicate: boolean }>(billingTarget(o, env), 'createReservation', {
      reservationId: o.id ?? '',
      tenant: o.tenant,
      pools: o.pools,
      gpus: o.gpus,
      startUnixMs: o.start,
      endUnixMs: o.end,
    });
    if (o.json) return console.log(JSON.stringify(r, null, 2));
    console.log(formatReservations([r.reservation]));
    console.log(r.duplicate ? 'already recorded: nothing new' : 'recorded; its fee is charged per elapsed hour');
  });

  const list = reservation
    .command('list')
    .description("list reservations (an operator key without --tenant lists every tenant's)")
    .option('--tenant <tenant>', 'only this tenant')
    .option('--json', 'print JSON');
  for (const [flag, help] of target) list.option(flag, help);
  list.action(async (o: { tenant?: string; json?: boolean } & Target) => {
    const r = await callBilling<object, { reservations: Reservation[] }>(billingTarget(o, env), 'listReservations', { tenant: o.tenant ?? '' });
    console.log(o.json ? JSON.stringify(r.reservations, null, 2) : formatReservations(r.reservations));
  });

  const fleet = program
    .command('fleet')
    .description('GPU time provisioned (worker heartbeats) and used per pool in a month: utilisation and the cost of idle GPUs')
    .option('--month <YYYY-MM>', 'calendar month in UTC (default: this month)', month)
    .option('--json', 'print JSON');
  for (const [flag, help] of target) fleet.option(flag, help);
  fleet.action(async (o: { month?: string; json?: boolean } & Target) => {
    const r = await callBilling<object, GetFleetReportResponse>(billingTarget(o, env), 'getFleetReport', { period: o.month ?? '' });
    console.log(o.json ? JSON.stringify(r, null, 2) : formatFleetReport(r));
  });
}
