// terraform/aws, parsed with HashiCorp's HCL parser (@cdktf/hcl2json), checked for the
// wiring that matters: nothing private in a public subnet, encryption, WAF rules, secrets.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { parse } from '@cdktf/hcl2json';
import { beforeAll, describe, expect, it } from 'vitest';

const ROOT = path.resolve('terraform/aws');
type Block = Record<string, any>;
interface Module {
  dir: string;
  text: string;
  config: Block;
}

function tfDirs(dir: string): string[] {
  const subdirs = readdirSync(dir).filter((f) => statSync(path.join(dir, f)).isDirectory());
  return [dir, ...subdirs.flatMap((d) => tfDirs(path.join(dir, d)))].filter((d) => readdirSync(d).some((f) => f.endsWith('.tf')));
}

/** Merges the parsed files of a module: resource → type → name → [block]. */
function merge(into: Block, from: Block): Block {
  for (const [key, value] of Object.entries(from)) {
    if (Array.isArray(value)) into[key] = [...(into[key] ?? []), ...value];
    else if (value && typeof value === 'object') into[key] = merge(into[key] ?? {}, value as Block);
    else into[key] = value;
  }
  return into;
}

const modules = new Map<string, Module>();
beforeAll(async () => {
  for (const dir of tfDirs(ROOT)) {
    let config: Block = {};
    let text = '';
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.tf'))) {
      const source = readFileSync(path.join(dir, file), 'utf8');
      text += source;
      config = merge(config, await parse(file, source));
    }
    modules.set(path.relative(ROOT, dir) || '.', { dir, text, config });
  }
});

const mod = (name: string) => modules.get(name)!;
const resource = (m: string, type: string, name: string): Block => mod(m).config.resource[type][name][0];

describe('terraform/aws', () => {
  it('has the modules of the architecture, every file parsing', () => {
    expect([...modules.keys()].sort()).toEqual(['.', 'modules/database', 'modules/ecr', 'modules/edge', 'modules/network', 'modules/services']);
  });

  it('declares every variable it uses, and uses every variable it declares', () => {
    for (const [name, m] of modules) {
      const declared = new Set(Object.keys(m.config.variable ?? {}));
      const used = new Set([...m.text.matchAll(/\bvar\.([a-z0-9_]+)/g)].map((x) => x[1]!));
      expect(
        [...used].filter((v) => !declared.has(v)),
        `${name}: used, not declared`,
      ).toEqual([]);
      expect(
        [...declared].filter((v) => !used.has(v)),
        `${name}: declared, never used`,
      ).toEqual([]);
      for (const [variable, [block]] of Object.entries<Block[]>(m.config.variable ?? {})) {
        expect(block!.description, `${name}: var.${variable} has no description`).toBeTruthy();
      }
    }
  });

  it('passes each module exactly the variables it declares, all the required ones', () => {
    for (const [call, [block]] of Object.entries<Block[]>(mod('.').config.module)) {
      const target = mod(path.relative(ROOT, path.resolve(ROOT, block!.source)));
      const declared = target.config.variable ?? {};
      const passed = Object.keys(block!).filter((k) => !['source', 'providers'].includes(k));
      expect(
        passed.filter((k) => !(k in declared)),
        `module.${call}: unknown arguments`,
      ).toEqual([]);
      const required = Object.entries(declared)
        .filter(([, [v]]: [string, any]) => !('default' in v))
        .map(([k]) => k);
      expect(
        required.filter((k) => !passed.includes(k)),
        `module.${call}: missing arguments`,
      ).toEqual([]);
    }
  });

  it('puts the database and every task in private subnets only', () => {
    const root = mod('.').config.module;
    expect(root.database[0].private_subnet_ids).toBe('${module.network.private_subnet_ids}');
    expect(root.services[0].private_subnet_ids).toBe('${module.network.private_subnet_ids}');
    expect(root.edge[0].public_subnet_ids).toBe('${module.network.public_subnet_ids}');
    expect(resource('modules/database', 'aws_db_subnet_group', 'database').subnet_ids).toBe('${var.private_subnet_ids}');
    expect(resource('modules/database', 'aws_rds_cluster_instance', 'database').publicly_accessible).toBe(false);
    const service = resource('modules/services', 'aws_ecs_service', 'role');
    expect(service.network_configuration[0]).toMatchObject({ subnets: '${var.private_subnet_ids}', assign_public_ip: false });
    const purge = resource('modules/services', 'aws_scheduler_schedule', 'purge');
    expect(purge.target[0].ecs_parameters[0].network_configuration[0]).toMatchObject({
      subnets: '${var.private_subnet_ids}',
      assign_public_ip: false,
    });
    // Public subnets hand out no addresses; only the load balancers use them.
    expect(resource('modules/network', 'aws_subnet', 'public').map_public_ip_on_launch).toBe(false);
    expect(mod('modules/services').text).not.toContain('public_subnet');
    expect(mod('modules/database').text).not.toContain('public_subnet');
  });

  it('encrypts the database at rest and in transit, and protects it from deletion', () => {
    const cluster = resource('modules/database', 'aws_rds_cluster', 'database');
    expect(cluster).toMatchObject({ storage_encrypted: true, deletion_protection: true, kms_key_id: '${aws_kms_key.database.arn}' });
    const parameters = resource('modules/database', 'aws_rds_cluster_parameter_group', 'database').parameter;
    expect(parameters).toContainEqual({ name: 'rds.force_ssl', value: '1' });
    expect(mod('modules/database').text).toContain('sslmode=verify-full');
    expect(resource('modules/edge', 'aws_lb_listener', 'submission')).toMatchObject({ protocol: 'HTTPS', port: 443 });
    expect(resource('modules/edge', 'aws_cloudfront_distribution', 'retrieval').default_cache_behavior[0].viewer_protocol_policy).toBe(
      'redirect-to-https',
    );
    expect(resource('modules/ecr', 'aws_ecr_repository', 'server').encryption_configuration[0].encryption_type).toBe('KMS');
  });

  it('limits /claim-key per address and /new-key-claim to the portals', () => {
    const rules: Block[] = resource('modules/edge', 'aws_wafv2_web_acl', 'submission').rule;
    const rate = rules.find((r) => r.statement[0].rate_based_statement);
    expect(rate).toBeDefined();
    const rateStatement = rate!.statement[0].rate_based_statement[0];
    expect(rateStatement).toMatchObject({ limit: '${var.claim_key_rate_limit}', aggregate_key_type: 'IP' });
    expect(rateStatement.scope_down_statement[0].byte_match_statement[0].search_string).toBe('/claim-key');
    expect(rate!.action[0].block).toBeDefined();

    const portals = rules.find((r) => r.name === 'new-key-claim-portals-only')!;
    const [path_, notPortal] = portals.statement[0].and_statement[0].statement;
    expect(path_.byte_match_statement[0].search_string).toBe('/new-key-claim');
    expect(notPortal.not_statement[0].statement[0].ip_set_reference_statement[0].arn).toBe('${aws_wafv2_ip_set.portals.arn}');
    expect(resource('modules/edge', 'aws_wafv2_ip_set', 'portals').addresses).toBe('${var.portal_allowed_cidrs}');
    expect(rules.some((r) => r.statement[0].managed_rule_group_statement?.[0].vendor_name === 'AWS')).toBe(true);
    expect(resource('modules/edge', 'aws_wafv2_web_acl_association', 'submission').resource_arn).toBe('${aws_lb.role["submission"].arn}');
    expect(resource('modules/edge', 'aws_cloudfront_distribution', 'retrieval').web_acl_id).toBe('${aws_wafv2_web_acl.retrieval.arn}');
    expect(resource('modules/edge', 'aws_shield_protection', 'edge').for_each).toContain('var.enable_shield_advanced');
  });

  it('gives every secret to the tasks from Secrets Manager, each role only its own', () => {
    const services = mod('modules/services').config;
    const secretNames = ['DATABASE_URL', 'KEY_CLAIM_TOKEN', 'RETRIEVE_HMAC_KEY', 'ECDSA_KEY', 'METRICS_USERNAME', 'METRICS_PASSWORD'];
    const locals = Object.assign({}, ...services.locals);
    // Plain environment variables never carry a secret.
    const container = locals.containers;
    expect(container).toContain('for role, settings in local.roles');
    for (const name of secretNames) expect(container).not.toMatch(new RegExp(`name\\s*=\\s*"${name}"`));
    expect(container).toContain(
      'secrets = [for variable, secret in local.role_secrets[role] : { name = variable, valueFrom = local.secret_arns[secret] }]',
    );
    // Every ARN a task reads is a Secrets Manager secret.
    expect(locals.secret_arns).toContain('aws_secretsmanager_secret.application');
    expect(mod('.').config.module.services[0].database_url_secret_arn).toBe('${module.database.database_url_secret_arn}');
    expect(resource('modules/database', 'aws_secretsmanager_secret', 'url').for_each).toBe('${local.urls}');
    // What each role needs, and no more.
    expect(Object.keys(locals.role_secrets.submission).sort()).toEqual(['DATABASE_URL', 'KEY_CLAIM_TOKEN']);
    expect(Object.keys(locals.role_secrets.retrieval).sort()).toEqual([
      'DATABASE_URL',
      'ECDSA_KEY',
      'METRICS_PASSWORD',
      'METRICS_USERNAME',
      'RETRIEVE_HMAC_KEY',
    ]);
    expect(Object.keys(locals.role_secrets.purge)).toEqual(['DATABASE_URL']);
    const readPolicy = services.data.aws_iam_policy_document.read_secrets[0];
    expect(readPolicy.statement[0].resources).toContain('local.role_secrets[each.key]');
    expect(readPolicy.statement[0].actions).toEqual(['secretsmanager:GetSecretValue']);
    // The application secrets' values never pass through Terraform state.
    expect(services.resource.aws_secretsmanager_secret_version).toBeUndefined();
  });
});
