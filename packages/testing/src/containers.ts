import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { TestServer } from './test-server.js';

/** True when `name` is an executable on PATH (or an absolute path that exists). */
export function hasBinary(name: string, path = process.env.PATH ?? ''): boolean {
  if (name.startsWith('/')) return existsSync(name);
  return path.split(delimiter).some((dir) => dir && existsSync(join(dir, name)));
}

/** A Docker engine answers when testcontainers can reach one (DOCKER_HOST or the socket). */
export async function dockerAnswers(): Promise<boolean> {
  if (!process.env.DOCKER_HOST && !existsSync('/var/run/docker.sock')) return false;
  try {
    const { getContainerRuntimeClient } = await import('testcontainers');
    await getContainerRuntimeClient();
    return true;
  } catch {
    return false;
  }
}

export interface ContainerSpec {
  readonly image: string;
  readonly port: number;
  readonly command?: string[];
  readonly env?: Record<string, string>;
  /** Log line that says the server is ready. */
  readonly readyLog: RegExp;
  readonly url: (host: string, port: number) => string;
}

/** Starts a server in a container when its binary is not installed here. */
export async function startContainer(spec: ContainerSpec): Promise<TestServer> {
  const { GenericContainer, Wait } = await import('testcontainers');
  let builder = new GenericContainer(spec.image).withExposedPorts(spec.port).withWaitStrategy(Wait.forLogMessage(spec.readyLog));
  if (spec.command) builder = builder.withCommand(spec.command);
  if (spec.env) builder = builder.withEnvironment(spec.env);
  const container = await builder.start();
  return {
    url: spec.url(container.getHost(), container.getMappedPort(spec.port)),
    dispose: async () => void (await container.stop()),
  };
}
