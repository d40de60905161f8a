import { status } from '@grpc/grpc-js';
import { InvalidArgumentError, type Command } from 'commander';
import { billingCalls, resolveBillingTarget, type BillingCalls } from './billing-target.js';
import { formatBalance, formatBudget, formatInvoice } from './finops-format.js';
import { tenantArg } from './tenants.js';

/** A whole number of micros (1,000,000 micros = 1 unit of the currency), 0 or more. */
export const microsArg = (value: string) => {
  const n = /^\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(n)) throw new InvalidArgumentError('expected a whole number of micros, 0 or more (1000000 micros = 1 unit of the currency)');
  return n;
};
const positiveMicrosArg = (value: string) => {
  const n = /^\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(n) || n === 0)
    throw new InvalidArgumentError('expected a positive whole number of micros (1000000 micros = 1 unit of the currency)');
  return n;
};
/** A calendar month, "YYYY-MM". */
export const monthArg = (value: string) => {
  if (!/^\d{4}-(0[1-9]|1[0-2])$/.test(value)) throw new InvalidArgumentError('expected a month, "YYYY-MM" (e.g. 2026-12)');
  return value;
};
const featureArg = (value: string) => {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(value)) throw new InvalidArgumentError('expected a feature tag: 1-64 letters, digits, "_" or "-"');
  return value;
};
const referenceArg = (value: string) => {
  if (value.length === 0 || value.length > 128) throw new InvalidArgumentError('expected 1-128 characters naming the purchase (e.g. the payment id)');
  return value;
};

export interface BudgetSetOptions {
  readonly tenant: string;
  readonly feature?: string;
  readonly softMicros?: number;
  readonly hardMicros?: number;
}

function requireLimits(o: BudgetSetOptions): void {
  if (o.softMicros === undefined && o.hardMicros === undefined) {
    throw new Error('give --soft-micros and/or --hard-micros (an omitted limit means none; both 0 removes the budget)');
  }
}

/** `switchyard budget set`: SetBudget, then the tenant's budgets as billing holds them. */
export async function budgetSet(billing: BillingCalls, o: BudgetSetOptions): Promise<string> {
  requireLimits(o);
  const r = await billing.setBudget({ tenant: o.tenant, feature: o.feature ?? '', softLimitMicros: o.softMicros ?? 0, hardLimitMicros: o.hardMicros ?? 0 });
  return formatBudget(o.tenant, r.state);
}

export async function budgetGet(billing: BillingCalls, tenant: string): Promise<string> {
  return formatBudget(tenant, (await billing.getBudget(tenant)).state);
}

export async function creditAdd(billing: BillingCalls, o: { tenant: string; micros: number; reference: string }): Promise<string> {
  const r = await billing.addCredit({ tenant: o.tenant, amountMicros: o.micros, reference: o.reference });
  const held = `tenant ${o.tenant} holds ${r.prepaidCreditMicros} µ of prepaid credit`;
  return r.duplicate
    ? `reference ${o.reference} was already recorded (transaction ${r.transactionId}); nothing added. ${held}`
    : `added ${o.micros} µ of prepaid credit (transaction ${r.transactionId}). ${held}`;
}

export async function balance(billing: BillingCalls, tenant: string): Promise<string> {
  return formatBalance(await billing.getBalance(tenant));
}

export async function invoice(billing: BillingCalls, o: { tenant: string; month: string }): Promise<string> {
  const r = await billing.getInvoice(o.tenant, o.month);
  if (!r.invoice) throw new Error(`billing returned no invoice for tenant ${o.tenant}, ${o.month}`);
  return formatInvoice(r.invoice);
}

async function withBilling(o: { billing?: string }, env: NodeJS.ProcessEnv, run: (billing: BillingCalls) => Promise<string>): Promise<void> {
  const target = resolveBillingTarget(o, env);
  const billing = billingCalls(target);
  try {
    console.log(await run(billing));
  } catch (e) {
    if ((e as { code?: unknown }).code === status.UNAVAILABLE) {
      throw new Error(`cannot reach billing at ${target.address} (pass --billing host:port or set SWITCHYARD_BILLING_ADDR)`, { cause: e });
    }
    throw e;
  } finally {
    billing.close();
  }
}

/**
 * `switchyard budget set|get`, `credit add`, `balance` and `invoice`: FinOps over BillingService,
 * the one owner of budgets, credit and invoices. Writes need an operator key.
 */
export function registerFinOpsCommands(program: Command, env: NodeJS.ProcessEnv): void {
  const billingOption = ['--billing <host:port>', 'billing gRPC address; default $SWITCHYARD_BILLING_ADDR or the local one'] as const;

  const budget = program.command('budget').description("a tenant's monthly budgets, held by billing (operator key to set)");
  budget
    .command('set')
    .description('set the monthly budget of a tenant or one of its features; admission enforces it within a second')
    .requiredOption('--tenant <tenant>', 'tenant id', tenantArg)
    .option('--feature <feature>', 'only this feature (default: the whole tenant)', featureArg)
    .option('--soft-micros <n>', 'soft limit in micros: warn past it (0 or omitted: none)', microsArg)
    .option('--hard-micros <n>', 'hard limit in micros: refuse past it (0 or omitted: none)', microsArg)
    .option(...billingOption)
    // Billing refuses a tenant that does not exist (NOT_FOUND, saying how to create it).
    .action(async (o: BudgetSetOptions & { billing?: string }) => {
      requireLimits(o);
      await withBilling(o, env, (b) => budgetSet(b, o));
    });
  budget
    .command('get')
    .description("a tenant's budgets and their spend this month")
    .requiredOption('--tenant <tenant>', 'tenant id', tenantArg)
    .option(...billingOption)
    .action((o: { tenant: string; billing?: string }) => withBilling(o, env, (b) => budgetGet(b, o.tenant)));

  program
    .command('credit')
    .description('prepaid credit (operator key)')
    .command('add')
    .description('record a purchase of prepaid credit; a repeat of the same reference records nothing')
    .requiredOption('--tenant <tenant>', 'tenant id', tenantArg)
    .requiredOption('--micros <n>', 'amount in micros (1000000 = 1 unit of the currency)', positiveMicrosArg)
    .requiredOption('--reference <ref>', 'id of the purchase, e.g. the payment id', referenceArg)
    .option(...billingOption)
    .action((o: { tenant: string; micros: number; reference: string; billing?: string }) => withBilling(o, env, (b) => creditAdd(b, o)));

  program
    .command('balance')
    .description("a tenant's ledger accounts: receivable, prepaid credit")
    .requiredOption('--tenant <tenant>', 'tenant id', tenantArg)
    .option(...billingOption)
    .action((o: { tenant: string; billing?: string }) => withBilling(o, env, (b) => balance(b, o.tenant)));

  program
    .command('invoice')
    .description("a tenant's invoice of one month: lines, totals per feature, cost per request and per 1K tokens, margin, credit")
    .requiredOption('--tenant <tenant>', 'tenant id', tenantArg)
    .requiredOption('--month <YYYY-MM>', 'calendar month (UTC)', monthArg)
    .option(...billingOption)
    .action((o: { tenant: string; month: string; billing?: string }) => withBilling(o, env, (b) => invoice(b, o)));
}
