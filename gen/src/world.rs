//! The simulated AWS estate: rotation functions (one per template flavour and then some), the
//! secrets they rotate, and unrelated API functions that share the log archive.

use super::lambda::{Env, Function, Ms, Runtime, Warning};
use super::rng::Rng;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    Postgres,
    MySql,
    MariaDb,
    SqlServer,
    Oracle,
    Redshift,
    MongoDb,
}

impl Engine {
    /// The engine label the templates print (`… in PostgreSQL DB for secret arn …`).
    pub fn label(self) -> &'static str {
        match self {
            Engine::Postgres => "PostgreSQL DB",
            Engine::MySql => "MySQL DB",
            Engine::MariaDb => "MariaDB DB",
            Engine::SqlServer => "SQL Server DB",
            Engine::Oracle => "Oracle DB",
            Engine::Redshift => "Redshift DB",
            Engine::MongoDb => "MongoDB",
        }
    }

    pub fn slug(self) -> &'static str {
        match self {
            Engine::Postgres => "postgres",
            Engine::MySql => "mysql",
            Engine::MariaDb => "mariadb",
            Engine::SqlServer => "sqlserver",
            Engine::Oracle => "oracle",
            Engine::Redshift => "redshift",
            Engine::MongoDb => "docdb",
        }
    }

    /// The SAR application name part: `SecretsManager<this>Rotation<Single|Multi>User`.
    pub fn sar(self) -> &'static str {
        match self {
            Engine::Postgres => "RDSPostgreSQL",
            Engine::MySql => "RDSMySQL",
            Engine::MariaDb => "RDSMariaDB",
            Engine::SqlServer => "RDSSQLServer",
            Engine::Oracle => "RDSOracle",
            Engine::Redshift => "Redshift",
            Engine::MongoDb => "MongoDB",
        }
    }

    /// Oracle, Redshift (and Db2) log "Successfully established connection as user …" without
    /// the SSL/TLS word.
    pub fn says_tls(self) -> bool {
        !matches!(self, Engine::Oracle | Engine::Redshift)
    }

    fn host_domain(self) -> &'static str {
        match self {
            Engine::Redshift => "redshift.amazonaws.com",
            Engine::MongoDb => "docdb.amazonaws.com",
            _ => "rds.amazonaws.com",
        }
    }
}

/// A rotation function: which template it was built from.
pub struct RotationFn {
    pub function: usize,
    pub engine: Engine,
    pub multi: bool,
    /// A customised template (extra logging); most are the AWS ones as deployed.
    pub custom: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApiKind {
    PythonText,
    PythonJson,
    Node,
}

pub struct ApiFn {
    pub function: usize,
    pub kind: ApiKind,
    /// URL path prefix of its routes, e.g. `orders`.
    pub resource: &'static str,
    /// Creates its boto3 client at import time (credential line in the init phase).
    pub init_client: bool,
}

pub struct Secret {
    pub arn: String,
    pub rotation_fn: usize,
    pub username: String,
    pub host: String,
    pub app: &'static str,
    /// Alternating users: the master secret and its user.
    pub master_arn: String,
    pub master_user: String,
    /// Not rotated again before this time (a secret rotates at most once in a few hours).
    pub free_at: Ms,
}

pub struct World {
    pub functions: Vec<Function>,
    pub rotation_fns: Vec<RotationFn>,
    pub api_fns: Vec<ApiFn>,
    pub secrets: Vec<Secret>,
    /// Idle (warm) execution environments per function.
    pub idle: Vec<Vec<Env>>,
}

const REGIONS: [&str; 6] = [
    "us-east-1",
    "us-east-1",
    "eu-west-1",
    "us-west-2",
    "ap-southeast-2",
    "eu-central-1",
];
const APPS: [&str; 24] = [
    "app",
    "billing",
    "orders",
    "crm",
    "hr",
    "ledger",
    "inventory",
    "support",
    "reports",
    "analytics",
    "search",
    "payments",
    "cms",
    "erp",
    "warehouse",
    "identity",
    "catalog",
    "claims",
    "fleet",
    "pricing",
    "loyalty",
    "shipping",
    "tax",
    "audit",
];
const ENVS: [&str; 4] = ["prod", "prod", "staging", "dev"];
const API_NAMES: [(&str, &str); 12] = [
    ("orders-api", "orders"),
    ("users-api", "users"),
    ("payments-webhook", "payments"),
    ("image-resizer", "images"),
    ("search-indexer", "search"),
    ("notifications-worker", "notifications"),
    ("reports-export", "reports"),
    ("auth-authorizer", "sessions"),
    ("inventory-sync", "inventory"),
    ("cart-service", "carts"),
    ("email-sender", "emails"),
    ("audit-log-consumer", "audit"),
];

/// Template flavours, in the order the world creates them (so every flavour exists).
const FLAVOURS: [(Engine, bool); 12] = [
    (Engine::Postgres, false),
    (Engine::Postgres, true),
    (Engine::MySql, false),
    (Engine::MySql, true),
    (Engine::MariaDb, false),
    (Engine::SqlServer, true),
    (Engine::Oracle, false),
    (Engine::Redshift, false),
    (Engine::MongoDb, false),
    (Engine::SqlServer, false),
    (Engine::Postgres, false),
    (Engine::MySql, false),
];

fn python(rng: &mut Rng) -> (&'static str, String) {
    let py = *rng.pick(&["3.9", "3.10", "3.11", "3.12", "3.12", "3.13"]);
    let v = match py {
        "3.9" => rng.range(60, 102),
        "3.10" => rng.range(40, 70),
        "3.11" => rng.range(30, 60),
        "3.12" => rng.range(27, 62),
        _ => rng.range(20, 60),
    };
    (py, format!("python:{py}.v{v}"))
}

impl World {
    pub fn new(rng: &mut Rng, rotation_fns: usize, secrets: usize, start: Ms) -> World {
        let accounts: Vec<String> = (0..3)
            .map(|_| format!("{}{}", 1 + rng.below(9), rng.digits(11)))
            .collect();
        let mut w = World {
            functions: Vec::new(),
            rotation_fns: Vec::new(),
            api_fns: Vec::new(),
            secrets: Vec::new(),
            idle: Vec::new(),
        };
        for i in 0..rotation_fns {
            let (engine, multi) = FLAVOURS[i % FLAVOURS.len()];
            let region = *rng.pick(&REGIONS);
            let account = rng.pick(&accounts).clone();
            let app = *rng.pick(&APPS);
            let kind = if multi { "Multi" } else { "Single" };
            let sar = format!("SecretsManager{}Rotation{kind}User", engine.sar());
            let custom = i >= FLAVOURS.len() / 2 && rng.chance(500);
            let (name, role) = if i < FLAVOURS.len() && !custom {
                let suffix = rng.alnum(12).to_uppercase();
                (sar.clone(), format!("{sar}Role-{suffix}"))
            } else {
                let n = format!("{}-{app}-{}-rotation-{}", rng.pick(&ENVS), engine.slug(), i);
                (n.clone(), format!("{n}-role"))
            };
            let (py, runtime_version) = python(rng);
            let legacy = rng.chance(400);
            let warning = match py {
                "3.12" | "3.13" => *rng.pick(&[Warning::Raw, Warning::Prefixed, Warning::None]),
                _ => Warning::None,
            };
            w.functions.push(Function {
                name,
                region,
                account,
                role,
                runtime: Runtime::Python,
                runtime_version,
                runtime_arn: format!("arn:aws:lambda:{region}::runtime:{}", rng.hex(64)),
                py,
                memory_mb: if rng.chance(800) { 128 } else { 256 },
                timeout_ms: 30_000,
                json_logs: rng.chance(120),
                legacy_platform: legacy,
                report_tab: legacy || rng.chance(500),
                warning,
            });
            w.rotation_fns.push(RotationFn {
                function: w.functions.len() - 1,
                engine,
                multi,
                custom,
            });
        }
        for (i, (name, resource)) in API_NAMES.iter().enumerate() {
            let region = *rng.pick(&REGIONS);
            let account = rng.pick(&accounts).clone();
            let kind = match i % 6 {
                0 | 2 | 4 => ApiKind::PythonText,
                1 => ApiKind::Node,
                3 => ApiKind::PythonJson,
                _ => *rng.pick(&[ApiKind::PythonText, ApiKind::Node]),
            };
            let (py, runtime_version, runtime) = if kind == ApiKind::Node {
                let v = rng.range(20, 130);
                (
                    "3.12",
                    format!("nodejs:{}.v{v}", rng.pick(&["18", "20", "22"])),
                    Runtime::Node,
                )
            } else {
                let (py, rv) = python(rng);
                (py, rv, Runtime::Python)
            };
            let legacy = rng.chance(400);
            w.functions.push(Function {
                name: name.to_string(),
                region,
                account,
                role: format!("{name}-role"),
                runtime,
                runtime_version,
                runtime_arn: format!("arn:aws:lambda:{region}::runtime:{}", rng.hex(64)),
                py,
                memory_mb: *rng.pick(&[128, 256, 512, 1024]),
                timeout_ms: *rng.pick(&[3_000, 6_000, 10_000, 29_000]),
                json_logs: kind == ApiKind::PythonJson,
                legacy_platform: legacy,
                report_tab: legacy || rng.chance(500),
                warning: if py == "3.12" || py == "3.13" {
                    *rng.pick(&[Warning::Raw, Warning::Prefixed, Warning::None])
                } else {
                    Warning::None
                },
            });
            w.api_fns.push(ApiFn {
                function: w.functions.len() - 1,
                kind,
                resource,
                init_client: rng.chance(600),
            });
        }
        for i in 0..secrets {
            let rf = if i < rotation_fns {
                i
            } else {
                rng.below(rotation_fns as u32) as usize
            };
            let r = &w.rotation_fns[rf];
            let f = &w.functions[r.function];
            let env = *rng.pick(&ENVS);
            let app = *rng.pick(&APPS);
            let arn = format!(
                "arn:aws:secretsmanager:{}:{}:secret:{env}/{app}/{}-{}",
                f.region,
                f.account,
                r.engine.slug(),
                rng.alnum(6)
            );
            let host = format!(
                "{env}-{app}-db.c{}.{}.{}",
                rng.lower(11),
                f.region,
                r.engine.host_domain()
            );
            let master_arn = format!(
                "arn:aws:secretsmanager:{}:{}:secret:rds!db-{}-{}",
                f.region,
                f.account,
                rng.uuid(),
                rng.alnum(6)
            );
            w.secrets.push(Secret {
                arn,
                rotation_fn: rf,
                username: format!("{app}_app"),
                host,
                app,
                master_arn,
                master_user: format!("{app}_admin"),
                free_at: start,
            });
        }
        w.idle = (0..w.functions.len()).map(|_| Vec::new()).collect();
        w
    }

    /// A warm environment of `function` free at `at` (and not idle for so long that Lambda
    /// reclaimed it), or a new cold one.
    pub fn env(&mut self, rng: &mut Rng, function: usize, at: Ms, fresh: bool) -> Env {
        let idle = &mut self.idle[function];
        idle.retain(|e| at - e.busy_until < 10 * 60 * 1000);
        if !fresh && let Some(pos) = idle.iter().position(|e| e.busy_until < at) {
            return idle.swap_remove(pos);
        }
        Env::new(rng, function, at)
    }

    /// Puts an environment back into the warm pool.
    pub fn release(&mut self, env: Env) {
        let idle = &mut self.idle[env.function];
        if idle.len() >= 4 {
            idle.remove(0);
        }
        idle.push(env);
    }
}
