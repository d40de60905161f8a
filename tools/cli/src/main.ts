import { Command } from 'commander';
import { registerAuditCommand } from './audit.js';
import { buildServices } from './build.js';
import { registerFinOpsCommands } from './finops.js';
import { generateCommand } from './generate.js';
import { registerLedgerCommands } from './ledger-rebuild.js';
import { registerLoadCommand } from './load-command.js';
import { registerForecastCommand } from './forecast.js';
import { registerOpsCommands } from './ops.js';
import { registerPolicyCommands } from './policy.js';
import { registerReconcileCommand } from './reconcile.js';
import { registerReplayCommand } from './replay.js';
import { registerReportCommand } from './report.js';
import { registerReservationCommands } from './reservations.js';
import { registerTenantCommands } from './tenants.js';
import { registerTopCommand } from './top.js';
import { ENGINE_ADAPTER, REPO_ROOT, SERVICES } from './stack.js';
import { up } from './up.js';
import { wholeOrZero as int } from './cli-arguments.js';

const program = new Command('switchyard').description('Switchyard: an open control plane for LLM inference');

program
  .command('up')
  .description('start NATS, Redis, Postgres (if not running) and every service on this machine')
  .option('--admission-port <port>', 'gRPC admission port', int, 50051)
  .option('--policy-port <port>', 'gRPC policy port', int, 50052)
  .option('--billing-port <port>', 'gRPC billing port', int, 50053)
  .option('--http-port <port>', 'OpenAI-compatible HTTP port', int, 8080)
  .option('--batch-port <port>', 'gRPC batch port', int, 50055)
  .option('--batch-http-port <port>', 'batch service HTTP port (admission forwards /v1/files and /v1/batches to it)', int, 8081)
  .option('--console-port <port>', "the scheduler's live console (HTTP /console)", int, 8090)
  .option('--pools <file>', 'pools file every service reads (pools of kind openai-compatible or provider also start the engine adapter)')
  .option('--exit-after-first-request', 'stop once the first request was served (start-up timing)')
  .option(
    '--scale <name=N>',
    'run N processes of a service, e.g. --scale worker-simulator=3 (repeatable); replica i listens on the ports + (i-1)*100',
    (value: string, previous: string[]) => [...previous, value],
    [] as string[],
  )
  .option('--quiet', "keep the services' log lines out of the terminal (they are still in .switchyard/logs)")
  .action((o) =>
    up({
      admissionPort: o.admissionPort,
      policyPort: o.policyPort,
      billingPort: o.billingPort,
      httpPort: o.httpPort,
      batchPort: o.batchPort,
      batchHttpPort: o.batchHttpPort,
      consolePort: o.consolePort,
      exitAfterFirstRequest: o.exitAfterFirstRequest,
      poolsFile: o.pools,
      scale: o.scale,
      logs: !o.quiet,
    }),
  );

program
  .command('build')
  .description('compile every service to services/<name>/dist/main.mjs (`up` does this itself; images run the bundles)')
  .action(() => buildServices(REPO_ROOT, [...SERVICES, ENGINE_ADAPTER]));

program
  .command('generate')
  .description('generate text and print tokens as they stream')
  .requiredOption('-p, --prompt <text>', 'the prompt')
  .option('-m, --model <name>', 'model', 'llama-3.1-8b')
  .option('-n, --max-tokens <n>', 'most tokens to generate', int, 64)
  .option('-t, --tier <tier>', 'realtime | internal | batch', 'realtime')
  .option('--seed <n>', 'sampling seed', int)
  .action((o) => generateCommand({ prompt: o.prompt, model: o.model, maxTokens: o.maxTokens, tier: o.tier, seed: o.seed }, process.env));

registerTenantCommands(program);
registerLoadCommand(program, process.env);
registerForecastCommand(program, process.env);
registerOpsCommands(program, process.env);
registerPolicyCommands(program, process.env);
registerReconcileCommand(program, process.env);
registerLedgerCommands(program, process.env);
registerReservationCommands(program, process.env);
registerFinOpsCommands(program, process.env);
registerReplayCommand(program, process.env);
registerTopCommand(program, process.env);
registerReportCommand(program, process.env);
registerAuditCommand(program, process.env);

program.parseAsync().catch((e: unknown) => {
  const err = e as { details?: string; message?: string; code?: number };
  console.error(`switchyard: ${err.details ?? err.message ?? String(e)}`);
  process.exit(1);
});
