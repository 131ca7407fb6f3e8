import type { Command } from 'commander';
import { Catalog } from '../../catalog/catalog.ts';
import { ServiceProfiles } from '../../catalog/profiles.ts';
import { loadConfigFile } from '../../config/load.ts';
import { checkJsonFile, globalOptions, jsonRequested, writeJsonOutput } from '../context.ts';
import { renderTable } from '../table.ts';

interface CatalogRow {
  type: string;
  usdPerHour: number;
  vcpu: number;
  memoryGiB: number;
  gpu: string | null;
  accelerated: boolean;
  profiledModels: string[];
  sizeRange: [number, number] | null;
}

export function registerCatalog(program: Command): void {
  program
    .command('catalog')
    .description('list instance types with their price and service-time profile coverage')
    .option('--all', 'every type in the catalog, not only the profiled ones')
    .option('--family <prefix>', 'only types whose name starts with this (e.g. g4dn)')
    .addHelpText('after', '\nExamples:\n  mixscale catalog\n  mixscale catalog --family g5 --all --json\n')
    .action((opts: { all?: boolean; family?: string }, cmd: Command) => {
      checkJsonFile(cmd);
      const g = globalOptions(cmd);
      const loaded = g.config !== undefined ? loadConfigFile(g.config) : undefined;
      const catalog = loaded?.catalog ?? Catalog.load();
      const profiles = loaded?.profiles ?? ServiceProfiles.load();
      const profiled = new Set(profiles.types());
      const rows: CatalogRow[] = catalog
        .all()
        .filter((t) => (opts.all === true || profiled.has(t.name)) && (opts.family === undefined || t.name.startsWith(opts.family)))
        .sort((a, b) => a.usdPerHour - b.usdPerHour || (a.name < b.name ? -1 : 1))
        .map((t) => {
          const cov = profiles.coverage(t.name);
          return {
            type: t.name,
            usdPerHour: t.usdPerHour,
            vcpu: t.vcpu,
            memoryGiB: t.memoryGiB,
            gpu: t.gpu === null || t.gpu.count === 0 ? null : `${t.gpu.count}× ${t.gpu.name}`,
            accelerated: catalog.isAccelerated(t.name),
            profiledModels: cov.map((c) => c.model),
            sizeRange: cov.length === 0 ? null : [Math.min(...cov.map((c) => c.minSize)), Math.max(...cov.map((c) => c.maxSize))],
          };
        });
      if (jsonRequested(cmd)) {
        writeJsonOutput(cmd, JSON.stringify({ types: rows }, null, 2) + '\n');
        return;
      }
      process.stdout.write(
        renderTable(
          ['type', '$/h', 'vCPU', 'mem GiB', 'GPU', 'profiled models', 'sizes'],
          rows.map((r) => [r.type, r.usdPerHour.toFixed(4), String(r.vcpu), String(r.memoryGiB), r.gpu ?? '-', r.profiledModels.join(' ') || '-', r.sizeRange === null ? '-' : `${r.sizeRange[0]}..${r.sizeRange[1]}`]),
        ) + `\n${rows.length} type(s)${opts.all === true ? '' : ' with profiles; --all lists every type'}\n`,
      );
    });
}
