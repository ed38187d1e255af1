//! Episodes: one secret's rotation (healthy, recovered after a retry, or failing for one cause with
//! Secrets Manager's retries), or a burst of invocations of an unrelated API function. Each
//! failing rotation writes the lines the corpus case of its cause shows (`corpus/<cause>--*`).

use super::lambda::{
    Block, End, Env, Frame, Function, Inv, Ms, botocore_client_error, botocore_connection_error,
    frame,
};
use super::rng::Rng;
use super::world::{ApiKind, Engine, RotationFn, Secret, World};

/// Every failure cause a rotation function's own logs can show, with its relative frequency
/// (per mille of failing rotations). `invoke-permission-missing` and
/// `vpc-network-interface-permissions` are not here: Secrets Manager (or `lambda
/// update-function-configuration`) is refused before the function runs, so those errors reach the
/// CLI and CloudTrail, never the function's log group.
pub const CAUSES: [(&str, u32); 22] = [
    ("database-credentials-invalid", 140),
    ("database-unreachable", 120),
    ("secrets-manager-unreachable", 100),
    ("lambda-timeout-too-short", 60),
    ("secret-json-missing-key", 60),
    ("network-acl-blocks-https", 50),
    ("database-requires-tls", 50),
    ("vpc-endpoint-security-group", 40),
    ("master-secret-access-denied", 40),
    ("rotation-role-permissions-missing", 40),
    ("kms-access-denied", 40),
    ("vpc-endpoint-policy-denies", 30),
    ("scram-auth-unsupported", 30),
    ("version-stage-mismatch", 30),
    ("function-package-broken", 30),
    ("database-privileges-insufficient", 30),
    ("unexplained-failure", 30),
    ("rotation-not-enabled", 20),
    ("database-driver-incompatible", 20),
    ("password-characters-rejected", 20),
    ("pending-secret-mismatch", 20),
    ("function-out-of-memory", 20),
];

pub fn cause_index(name: &str) -> Option<usize> {
    CAUSES.iter().position(|(n, _)| *n == name)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cause {
    CredentialsInvalid,
    DbUnreachable,
    SmUnreachable,
    LambdaTimeout,
    JsonMissingKey,
    NetworkAcl,
    RequiresTls,
    VpceSecurityGroup,
    MasterDenied,
    RolePermissions,
    Kms,
    VpcePolicy,
    Scram,
    VersionStage,
    PackageBroken,
    Privileges,
    Unexplained,
    NotEnabled,
    DriverIncompatible,
    PasswordChars,
    PendingMismatch,
    OutOfMemory,
}

const CAUSE_ENUM: [Cause; 22] = [
    Cause::CredentialsInvalid,
    Cause::DbUnreachable,
    Cause::SmUnreachable,
    Cause::LambdaTimeout,
    Cause::JsonMissingKey,
    Cause::NetworkAcl,
    Cause::RequiresTls,
    Cause::VpceSecurityGroup,
    Cause::MasterDenied,
    Cause::RolePermissions,
    Cause::Kms,
    Cause::VpcePolicy,
    Cause::Scram,
    Cause::VersionStage,
    Cause::PackageBroken,
    Cause::Privileges,
    Cause::Unexplained,
    Cause::NotEnabled,
    Cause::DriverIncompatible,
    Cause::PasswordChars,
    Cause::PendingMismatch,
    Cause::OutOfMemory,
];

impl Cause {
    /// Can a secret rotated by this function fail this way?
    fn fits(self, r: &RotationFn) -> bool {
        match self {
            Cause::Scram | Cause::RequiresTls => r.engine == Engine::Postgres,
            Cause::DriverIncompatible => {
                matches!(r.engine, Engine::MySql | Engine::MariaDb | Engine::MongoDb)
            }
            Cause::Privileges => {
                r.multi
                    && matches!(
                        r.engine,
                        Engine::MySql | Engine::Postgres | Engine::SqlServer
                    )
            }
            Cause::MasterDenied => r.multi,
            Cause::PasswordChars => r.engine == Engine::Oracle,
            Cause::PendingMismatch => !r.multi,
            _ => true,
        }
    }
}

/// Where a failing rotation stops.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Stop {
    Create,
    Set,
    Finish,
}

/// Counters of what was generated (the generator's ground truth).
#[derive(Clone, Debug, Default)]
pub struct Stats {
    pub rotations: u64,
    pub healthy: u64,
    pub recovered: u64,
    pub failed: u64,
    pub failed_by_cause: [u64; 22],
    pub invocations: u64,
    pub rotation_invocations: u64,
    pub other_invocations: u64,
    /// Invocations of rotation functions that failed (timeouts, raised errors, crashes).
    pub failing_invocations: u64,
    /// Events written by a rotation template that carry a step prefix (`createSecret:`, …).
    pub template_lines: u64,
    /// Unhandled-error blocks (`[ERROR] <Type>: …` + traceback, or the JSON equivalent).
    pub error_blocks: u64,
    pub streams: u64,
    /// `print()` lines (no prefix: raw text continues the previous record with them).
    pub print_lines: u64,
    /// Message bytes of rotation functions and of the others (to steer the mix).
    pub rotation_bytes: u64,
    pub other_bytes: u64,
}

/// The simulation: the world, the random stream, and the blocks the last episode produced.
pub struct Sim {
    pub rng: Rng,
    pub world: World,
    pub out: Vec<Block>,
    pub stats: Stats,
    /// Failing rotations per mille.
    pub fail_per_mille: u32,
    /// Share of the bytes that unrelated functions write, in percent.
    pub noise_percent: u32,
    /// Generate failures of this cause only (every rotation fails).
    pub only: Option<usize>,
}

/// One rotation being generated.
struct Rot {
    fi: usize,
    si: usize,
    engine: Engine,
    multi: bool,
    custom: bool,
    token: String,
    /// The function timeout of this episode (3 s when the cause is a too-short timeout).
    timeout: Ms,
}

const TEMPLATE: &str = "/var/task/lambda_function.py";

fn lh(line: u32, code: &str) -> Frame {
    frame(TEMPLATE, line, "lambda_handler", code)
}

fn tf(line: u32, func: &'static str, code: &str) -> Frame {
    frame(TEMPLATE, line, func, code)
}

fn conn_line(engine: Engine, user: &str, host: &str) -> String {
    if engine.says_tls() {
        format!("Successfully established SSL/TLS connection as user '{user}' with host: '{host}'")
    } else {
        format!("Successfully established connection as user '{user}' with host: '{host}'")
    }
}

fn login_failure(multi: bool, arn: &str) -> (String, String, Frame) {
    if multi {
        let m = format!("Unable to log into database using current credentials for secret {arn}");
        (
            format!("setSecret: {m}"),
            m,
            tf(
                198,
                "set_secret",
                "raise ValueError(\"Unable to log into database using current credentials for secret %s\" % arn)",
            ),
        )
    } else {
        let m = format!(
            "Unable to log into database with previous, current, or pending secret of secret arn {arn}"
        );
        (
            format!("setSecret: {m}"),
            m,
            tf(
                193,
                "set_secret",
                "raise ValueError(\"Unable to log into database with previous, current, or pending secret of secret arn %s\" % arn)",
            ),
        )
    }
}

fn denied(f: &Function, op: &str, action: &str, resource: &str, why: &str) -> String {
    format!(
        "An error occurred (AccessDeniedException) when calling the {op} operation: User: arn:aws:sts::{}:assumed-role/{}/{} is not authorized to perform: secretsmanager:{action} on resource: {resource} {why}",
        f.account, f.role, f.name
    )
}

fn create_get_frames(f: &Function) -> Vec<Frame> {
    let mut v = vec![
        lh(74, "create_secret(service_client, arn, token)"),
        tf(
            104,
            "create_secret",
            "current_dict = get_secret_dict(service_client, arn, \"AWSCURRENT\")",
        ),
        tf(
            423,
            "get_secret_dict",
            "secret = service_client.get_secret_value(SecretId=arn, VersionStage=stage)",
        ),
    ];
    v.extend(botocore_client_error(f));
    v
}

fn create_put_frames(f: &Function) -> Vec<Frame> {
    let mut v = vec![
        lh(74, "create_secret(service_client, arn, token)"),
        tf(
            120,
            "create_secret",
            "service_client.put_secret_value(SecretId=arn, ClientRequestToken=token, SecretString=json.dumps(current_dict), VersionStages=['AWSPENDING'])",
        ),
    ];
    v.extend(botocore_client_error(f));
    v
}

fn set_get_frames() -> Vec<Frame> {
    vec![
        lh(77, "set_secret(service_client, arn, token)"),
        tf(
            150,
            "set_secret",
            "current_dict = get_secret_dict(service_client, arn, \"AWSCURRENT\")",
        ),
        tf(
            423,
            "get_secret_dict",
            "secret = service_client.get_secret_value(SecretId=arn, VersionStage=stage)",
        ),
    ]
}

fn pymysql_frames() -> Vec<Frame> {
    vec![
        frame(
            "/var/task/pymysql/cursors.py",
            153,
            "execute",
            "result = self._query(query)",
        ),
        frame(
            "/var/task/pymysql/cursors.py",
            322,
            "_query",
            "conn.query(q)",
        ),
        frame(
            "/var/task/pymysql/connections.py",
            563,
            "query",
            "self._affected_rows = self._read_query_result(unbuffered=unbuffered)",
        ),
        frame(
            "/var/task/pymysql/connections.py",
            825,
            "_read_query_result",
            "result.read()",
        ),
        frame(
            "/var/task/pymysql/connections.py",
            1199,
            "read",
            "first_packet = self.connection._read_packet()",
        ),
        frame(
            "/var/task/pymysql/connections.py",
            775,
            "_read_packet",
            "packet.raise_for_error()",
        ),
        frame(
            "/var/task/pymysql/protocol.py",
            219,
            "raise_for_error",
            "err.raise_mysql_exception(self._data)",
        ),
        frame(
            "/var/task/pymysql/err.py",
            150,
            "raise_mysql_exception",
            "raise errorclass(errno, errval)",
        ),
    ]
}

impl Sim {
    fn emit(&mut self, b: Block, rotation: bool) {
        let mut bytes = 0u64;
        let mut invocations = 0u64;
        for (_, m) in &b.events {
            bytes += m.len() as u64;
            if m.starts_with("START RequestId:") || m.contains("\"type\":\"platform.start\"") {
                invocations += 1;
            }
            if rotation
                && (m.contains("createSecret:")
                    || m.contains("setSecret:")
                    || m.contains("testSecret:")
                    || m.contains("finishSecret:"))
            {
                self.stats.template_lines += 1;
            }
            if m.starts_with("[ERROR] ") && m.contains("\nTraceback (most recent call last):")
                || m.contains("\"log_level\": \"ERROR\"")
                || m.contains("\tERROR\tInvoke Error \t")
            {
                self.stats.error_blocks += 1;
            }
        }
        self.stats.invocations += invocations;
        if rotation {
            self.stats.rotation_bytes += bytes;
            self.stats.rotation_invocations += invocations;
        } else {
            self.stats.other_bytes += bytes;
            self.stats.other_invocations += invocations;
        }
        self.out.push(b);
    }

    fn env(&mut self, function: usize, at: Ms, fresh: bool) -> Env {
        let e = self.world.env(&mut self.rng, function, at, fresh);
        if e.cold {
            self.stats.streams += 1;
        }
        e
    }

    /// Generates the next episode, starting at `at`. Nothing it writes is earlier than `at`.
    pub fn episode(&mut self, at: Ms) {
        let total = self.stats.rotation_bytes + self.stats.other_bytes;
        let noise_due = self.stats.other_bytes * 100 < total * self.noise_percent as u64;
        // Short-circuit: a rotation is attempted only when no noise is due; when no secret is
        // free for it, noise instead.
        if (noise_due && self.only.is_none()) || !self.rotation(at) {
            self.noise(at);
        }
    }

    // -----------------------------------------------------------------------------------------
    // Rotations

    fn pick_secret(&mut self, at: Ms, cause: Option<Cause>) -> Option<usize> {
        let n = self.world.secrets.len() as u32;
        let ok = |w: &World, si: usize| {
            let s = &w.secrets[si];
            s.free_at <= at && cause.is_none_or(|c| c.fits(&w.rotation_fns[s.rotation_fn]))
        };
        for _ in 0..40 {
            let si = self.rng.below(n) as usize;
            if ok(&self.world, si) {
                return Some(si);
            }
        }
        let from = self.rng.below(n) as usize;
        (0..n as usize)
            .map(|i| (from + i) % n as usize)
            .find(|&si| ok(&self.world, si))
    }

    fn rotation(&mut self, at: Ms) -> bool {
        let roll = self.rng.below(1000);
        let cause = match self.only {
            Some(c) => Some(CAUSE_ENUM[c]),
            None if roll < self.fail_per_mille => {
                let w: Vec<u32> = CAUSES.iter().map(|c| c.1).collect();
                Some(CAUSE_ENUM[self.rng.weighted(&w)])
            }
            None => None,
        };
        let recovered = cause.is_none() && roll < self.fail_per_mille + 15;
        let Some(si) = self.pick_secret(at, cause) else {
            return false;
        };
        let s = &self.world.secrets[si];
        let r = &self.world.rotation_fns[s.rotation_fn];
        let rot = Rot {
            fi: r.function,
            si,
            engine: r.engine,
            multi: r.multi,
            custom: r.custom,
            token: self.rng.uuid(),
            timeout: if cause == Some(Cause::LambdaTimeout) {
                3_000
            } else {
                self.world.functions[r.function].timeout_ms
            },
        };
        self.stats.rotations += 1;
        let end = match cause {
            Some(c) => {
                self.stats.failed += 1;
                self.stats.failed_by_cause[CAUSE_ENUM.iter().position(|x| *x == c).unwrap()] += 1;
                self.failing(&rot, c, at)
            }
            None if recovered => {
                self.stats.recovered += 1;
                self.recovering(&rot, at)
            }
            None => {
                self.stats.healthy += 1;
                self.healthy(&rot, at)
            }
        };
        // Secrets Manager rotates a secret every few days at most: keep the next rotation of the
        // same secret well apart (beyond the idle time that closes a rotation).
        self.world.secrets[si].free_at = end + self.rng.range(3 * 3_600_000, 12 * 3_600_000);
        true
    }

    /// Runs one invocation of the rotation function in `env` at `at`; `body` writes its lines
    /// and says how it ended. Returns the time of its last event.
    fn invoke(
        &mut self,
        r: &Rot,
        env: &mut Env,
        at: Ms,
        body: impl FnOnce(&mut Inv, &mut Rng, &Secret, &mut Env) -> End,
    ) -> Ms {
        let f = &self.world.functions[r.fi];
        let s = &self.world.secrets[r.si];
        let rng = &mut self.rng;
        let mut inv = Inv::begin(rng, f, env, at);
        inv.timeout_ms = r.timeout;
        let how = body(&mut inv, rng, s, env);
        let failed = !matches!(how, End::Returned) || inv.raised;
        let restart = matches!(how, End::Timeout | End::OutOfMemory);
        let b = inv.end(rng, env, how);
        if restart {
            // The runtime is restarted after a timeout or a crash: the next invocation in this
            // environment starts with INIT_START again.
            env.cold = true;
            env.creds_logged = false;
        }
        if failed {
            self.stats.failing_invocations += 1;
        }
        self.emit(b, true);
        env.busy_until
    }

    fn gap(&mut self) -> Ms {
        self.rng.range(350, 900)
    }

    fn step_create(&mut self, r: &Rot, env: &mut Env, at: Ms, put: bool) -> Ms {
        let token = r.token.clone();
        let slow = r.timeout < 10_000;
        self.invoke(r, env, at, |inv, rng, s, env| {
            inv.credentials(env, rng.range(25, 45));
            let dt = if slow {
                rng.range(1300, 1600)
            } else {
                rng.range(330, 650)
            };
            if put {
                inv.info(
                    dt,
                    &format!(
                        "createSecret: Successfully put secret for ARN {} and version {token}.",
                        s.arn
                    ),
                );
            } else {
                inv.info(
                    dt,
                    &format!("createSecret: Successfully retrieved secret for {}.", s.arn),
                );
            }
            End::Returned
        })
    }

    fn step_set(&mut self, r: &Rot, env: &mut Env, at: Ms, already: bool) -> Ms {
        let (engine, multi) = (r.engine, r.multi);
        self.invoke(r, env, at, |inv, rng, s, env| {
            inv.credentials(env, rng.range(25, 45));
            if multi && rng.chance(300) {
                inv.info(
                    rng.range(80, 160),
                    &format!(
                        "setSecret: Successfully fetched connection params for Master Secret {} from DescribeDBInstances API.",
                        s.master_arn
                    ),
                );
            }
            let user = if multi { &s.master_user } else { &s.username };
            inv.info(rng.range(500, 1000), &conn_line(engine, user, &s.host));
            if already {
                inv.info(
                    rng.range(40, 90),
                    &format!(
                        "setSecret: AWSPENDING secret is already set as password in {} for secret arn {}.",
                        engine.label(),
                        s.arn
                    ),
                );
            } else if multi {
                inv.info(
                    rng.range(60, 140),
                    &format!(
                        "setSecret: Successfully set password for {}_clone in {} for secret arn {}.",
                        s.username,
                        engine.label(),
                        s.arn
                    ),
                );
            } else {
                inv.info(
                    rng.range(60, 140),
                    &format!(
                        "setSecret: Successfully set password for user {} in {} for secret arn {}.",
                        s.username,
                        engine.label(),
                        s.arn
                    ),
                );
            }
            End::Returned
        })
    }

    fn step_test(&mut self, r: &Rot, env: &mut Env, at: Ms) -> Ms {
        let (engine, multi) = (r.engine, r.multi);
        self.invoke(r, env, at, |inv, rng, s, env| {
            inv.credentials(env, rng.range(25, 45));
            let user = if multi {
                format!("{}_clone", s.username)
            } else {
                s.username.clone()
            };
            inv.info(rng.range(230, 300), &conn_line(engine, &user, &s.host));
            inv.info(
                rng.range(8, 20),
                &format!(
                    "testSecret: Successfully signed into {} with AWSPENDING secret in {}.",
                    engine.label(),
                    s.arn
                ),
            );
            End::Returned
        })
    }

    fn step_finish(&mut self, r: &Rot, env: &mut Env, at: Ms) -> Ms {
        let token = r.token.clone();
        self.invoke(r, env, at, |inv, rng, s, env| {
            inv.credentials(env, rng.range(25, 45));
            inv.info(
                rng.range(170, 240),
                &format!(
                    "finishSecret: Successfully set AWSCURRENT stage to version {token} for secret {}.",
                    s.arn
                ),
            );
            End::Returned
        })
    }

    /// The four steps, each after the previous one, some from a second environment.
    fn healthy(&mut self, r: &Rot, at: Ms) -> Ms {
        let mut a = self.env(r.fi, at, false);
        let mut t = self.step_create(r, &mut a, at, true);
        let split = self.rng.chance(200);
        let mut b = if split {
            let g = self.gap();
            Some(self.env(r.fi, t + g, true))
        } else {
            None
        };
        let e = b.as_mut().unwrap_or(&mut a);
        let g = self.rng.range(350, 900);
        t = self.step_set(r, e, t + g, false);
        let g = self.rng.range(350, 900);
        t = self.step_test(r, e, t + g);
        let g = self.rng.range(350, 900);
        t = self.step_finish(r, e, t + g);
        self.world.release(a);
        if let Some(b) = b {
            self.world.release(b);
        }
        t
    }

    /// setSecret fails once (the database was rebooting: a login failure after ~20 s), and
    /// Secrets Manager's retry completes the rotation.
    fn recovering(&mut self, r: &Rot, at: Ms) -> Ms {
        let mut a = self.env(r.fi, at, false);
        let mut t = self.step_create(r, &mut a, at, true);
        let g = self.gap();
        let multi = r.multi;
        t = self.invoke(r, &mut a, t + g, |inv, rng, s, _| {
            let (line, msg, raise) = login_failure(multi, &s.arn);
            inv.error(rng.range(15_000, 21_000), &line);
            inv.unhandled(
                1,
                "ValueError",
                &msg,
                &[lh(77, "set_secret(service_client, arn, token)"), raise],
            );
            End::Returned
        });
        let retry = t + self.rng.range(180_000, 360_000);
        let fresh = self.rng.chance(500);
        let mut b = if fresh {
            Some(self.env(r.fi, retry, true))
        } else {
            None
        };
        let e = b.as_mut().unwrap_or(&mut a);
        t = self.step_create(r, e, retry, false);
        let g = self.rng.range(350, 900);
        t = self.step_set(r, e, t + g, false);
        let g = self.rng.range(350, 900);
        t = self.step_test(r, e, t + g);
        let g = self.rng.range(350, 900);
        t = self.step_finish(r, e, t + g);
        self.world.release(a);
        if let Some(b) = b {
            self.world.release(b);
        }
        t
    }

    /// A rotation that fails for `cause`, attempted two or three times (Secrets Manager retries
    /// a few minutes apart), each attempt writing what the corpus case of that cause shows.
    fn failing(&mut self, r: &Rot, cause: Cause, at: Ms) -> Ms {
        let attempts = if self.rng.chance(350) { 3 } else { 2 };
        let variant = self.rng.below(100);
        let stop = match cause {
            Cause::SmUnreachable
            | Cause::VpcePolicy
            | Cause::JsonMissingKey
            | Cause::Kms
            | Cause::VersionStage
            | Cause::NotEnabled
            | Cause::PackageBroken => Stop::Create,
            Cause::RolePermissions if variant < 60 => Stop::Create,
            Cause::RolePermissions => Stop::Finish,
            _ => Stop::Set,
        };
        // A new environment for every attempt when the failure kills or hangs the runtime before
        // anything else happens in it.
        let fresh_each = matches!(cause, Cause::SmUnreachable | Cause::PackageBroken);
        let vpce = format!("vpce-{}-{}", self.rng.hex(17), self.rng.lower(8));
        let mut a: Option<Env> = None;
        let mut b: Option<Env> = None;
        let mut t = at;
        for k in 0..attempts {
            if k > 0 {
                t += self.rng.range(120_000, 420_000);
                if (fresh_each || self.rng.chance(300))
                    && let Some(old) = a.take()
                {
                    self.world.release(old);
                }
            }
            let mut ea = match a.take() {
                Some(e) => e,
                None => self.env(r.fi, t, fresh_each),
            };
            match stop {
                Stop::Create => {
                    t = self.fail_create(r, cause, variant, &mut ea, t);
                }
                Stop::Set => {
                    t = self.step_create(r, &mut ea, t, k == 0);
                    let g = self.gap();
                    if cause == Cause::VpceSecurityGroup {
                        let mut eb = match b.take() {
                            Some(e) => e,
                            None => self.env(r.fi, t + g, true),
                        };
                        t = self.fail_set(r, cause, variant, &mut eb, t + g, &vpce);
                        b = Some(eb);
                    } else {
                        t = self.fail_set(r, cause, variant, &mut ea, t + g, &vpce);
                    }
                }
                Stop::Finish => {
                    t = self.step_create(r, &mut ea, t, k == 0);
                    let g = self.gap();
                    t = self.step_set(r, &mut ea, t + g, k > 0);
                    let g = self.gap();
                    t = self.step_test(r, &mut ea, t + g);
                    let g = self.gap();
                    t = self.fail_finish(r, &mut ea, t + g);
                }
            }
            a = Some(ea);
        }
        if let Some(e) = a {
            self.world.release(e);
        }
        if let Some(e) = b {
            self.world.release(e);
        }
        t
    }

    fn fail_create(&mut self, r: &Rot, cause: Cause, variant: u32, env: &mut Env, at: Ms) -> Ms {
        let f = &self.world.functions[r.fi];
        if cause == Cause::PackageBroken {
            let module = match r.engine {
                Engine::SqlServer => "pymssql._pymssql",
                Engine::Postgres | Engine::Redshift => "_pg",
                Engine::Oracle => "oracledb.thick_impl",
                Engine::MongoDb => "pymongo",
                _ => "pymysql",
            };
            let rng = &mut self.rng;
            let mut inv = Inv::begin_init_failure(
                rng,
                f,
                env,
                at,
                "Runtime.ImportModuleError",
                &format!("Unable to import module 'lambda_function': No module named '{module}'"),
            );
            inv.wait(rng.range(190, 230));
            let b = inv.end(rng, env, End::InitError("Runtime.ImportModuleError"));
            self.stats.failing_invocations += 1;
            self.emit(b, true);
            return env.busy_until;
        }
        let region = f.region;
        let f_denied_vpce = |arn: &str| {
            denied(
                f,
                "GetSecretValue",
                "GetSecretValue",
                arn,
                if variant < 60 {
                    "because no VPC endpoint policy allows the secretsmanager:GetSecretValue action"
                } else {
                    "with an explicit deny in a VPC endpoint policy"
                },
            )
        };
        let s = &self.world.secrets[r.si];
        let denied_vpce = f_denied_vpce(&s.arn);
        let denied_put = denied(
            f,
            "PutSecretValue",
            "PutSecretValue",
            &s.arn,
            "because no identity-based policy allows the secretsmanager:PutSecretValue action",
        );
        let get_frames = create_get_frames(f);
        let put_frames = create_put_frames(f);
        let mut describe = vec![lh(
            56,
            "metadata = service_client.describe_secret(SecretId=arn)",
        )];
        describe.extend(botocore_connection_error(
            f,
            "raise EndpointConnectionError(endpoint_url=request.url, error=e)",
        ));
        let engine = r.engine;
        let token = r.token.clone();
        self.invoke(r, env, at, move |inv, rng, s, env| {
            inv.credentials(env, rng.range(25, 45));
            match cause {
                Cause::SmUnreachable if variant < 75 => return End::Timeout,
                Cause::SmUnreachable => inv.unhandled(
                    rng.range(2300, 2500),
                    "EndpointConnectionError",
                    &format!(
                        "Could not connect to the endpoint URL: \"https://secretsmanager.{region}.amazonaws.com/\""
                    ),
                    &describe,
                ),
                Cause::VpcePolicy => {
                    inv.unhandled(rng.range(380, 560), "ClientError", &denied_vpce, &get_frames)
                }
                Cause::JsonMissingKey => {
                    let msg = if variant < 75 {
                        format!(
                            "'{} key is missing from secret JSON'",
                            ["host", "password", "username", "host"][variant as usize % 4]
                        )
                    } else {
                        format!(
                            "\"Database engine must be set to '{}' in order to use this rotation lambda\"",
                            match engine {
                                Engine::MongoDb => "mongo",
                                e => e.slug(),
                            }
                        )
                    };
                    let frames = [
                        lh(74, "create_secret(service_client, arn, token)"),
                        tf(
                            104,
                            "create_secret",
                            "current_dict = get_secret_dict(service_client, arn, \"AWSCURRENT\")",
                        ),
                        tf(
                            430,
                            "get_secret_dict",
                            if variant < 75 {
                                "raise KeyError(\"%s key is missing from secret JSON\" % field)"
                            } else {
                                "raise KeyError(\"Database engine must be set to '%s' in order to use this rotation lambda\" % supported_engine)"
                            },
                        ),
                    ];
                    inv.unhandled(rng.range(380, 450), "KeyError", &msg, &frames);
                }
                Cause::RolePermissions => {
                    inv.unhandled(rng.range(420, 600), "ClientError", &denied_put, &put_frames)
                }
                Cause::Kms if variant < 70 => inv.unhandled(
                    rng.range(200, 560),
                    "ClientError",
                    "An error occurred (AccessDeniedException) when calling the GetSecretValue operation: Access to KMS is not allowed",
                    &get_frames,
                ),
                Cause::Kms => inv.unhandled(
                    rng.range(300, 600),
                    "ClientError",
                    "An error occurred (AccessDeniedException) when calling the PutSecretValue operation: Access to KMS is not allowed",
                    &put_frames,
                ),
                Cause::VersionStage => {
                    let (msg, raise) = if variant < 60 {
                        (
                            format!(
                                "Secret version {token} has no stage for rotation of secret {}.",
                                s.arn
                            ),
                            lh(
                                64,
                                "raise ValueError(\"Secret version %s has no stage for rotation of secret %s.\" % (token, arn))",
                            ),
                        )
                    } else {
                        (
                            format!(
                                "Secret version {token} not set as AWSPENDING for rotation of secret {}.",
                                s.arn
                            ),
                            lh(
                                71,
                                "raise ValueError(\"Secret version %s not set as AWSPENDING for rotation of secret %s.\" % (token, arn))",
                            ),
                        )
                    };
                    inv.error(rng.range(120, 500), &msg);
                    inv.unhandled(1, "ValueError", &msg, &[raise]);
                }
                Cause::NotEnabled => {
                    let msg = format!("Secret {} is not enabled for rotation", s.arn);
                    inv.error(rng.range(120, 560), &msg);
                    inv.unhandled(
                        1,
                        "ValueError",
                        &msg,
                        &[lh(
                            60,
                            "raise ValueError(\"Secret %s is not enabled for rotation\" % arn)",
                        )],
                    );
                }
                _ => unreachable!("{cause:?} does not stop in createSecret"),
            }
            End::Returned
        })
    }

    fn fail_set(
        &mut self,
        r: &Rot,
        cause: Cause,
        variant: u32,
        env: &mut Env,
        at: Ms,
        vpce: &str,
    ) -> Ms {
        let f = &self.world.functions[r.fi];
        let region = f.region;
        let mut connect_frames = set_get_frames();
        connect_frames.extend(botocore_connection_error(
            f,
            "raise ConnectTimeoutError(endpoint_url=request.url, error=e)",
        ));
        let s = &self.world.secrets[r.si];
        let master_denied = denied(
            f,
            "GetSecretValue",
            "GetSecretValue",
            &s.master_arn,
            "because no identity-based policy allows the secretsmanager:GetSecretValue action",
        );
        let mut master_frames = vec![
            lh(82, "set_secret(service_client, arn, token)"),
            tf(
                186,
                "set_secret",
                "master_dict = get_secret_dict(service_client, current_dict['masterarn'], \"AWSCURRENT\")",
            ),
            tf(
                466,
                "get_secret_dict",
                "secret = service_client.get_secret_value(SecretId=arn, VersionStage=stage)",
            ),
        ];
        master_frames.extend(botocore_client_error(f));
        let (engine, multi, custom) = (r.engine, r.multi, r.custom);
        let vpce = vpce.to_string();
        self.invoke(r, env, at, move |inv, rng, s, env| {
            inv.credentials(env, rng.range(25, 45));
            let (login_line, login_msg, login_raise) = login_failure(multi, &s.arn);
            let set_frame = lh(77, "set_secret(service_client, arn, token)");
            let login = |inv: &mut Inv, dt: Ms| {
                inv.error(dt, &login_line);
                inv.unhandled(1, "ValueError", &login_msg, &[set_frame.clone(), login_raise.clone()]);
            };
            match cause {
                Cause::NetworkAcl if variant < 70 => return End::Timeout,
                Cause::NetworkAcl => inv.unhandled(
                    rng.range(15_300, 15_500),
                    "ConnectTimeoutError",
                    &format!(
                        "Connect timeout on endpoint URL: \"https://secretsmanager.{region}.amazonaws.com/\""
                    ),
                    &connect_frames,
                ),
                Cause::VpceSecurityGroup => inv.unhandled(
                    rng.range(15_300, 15_500),
                    "ConnectTimeoutError",
                    &format!(
                        "Connect timeout on endpoint URL: \"https://{vpce}.secretsmanager.{region}.vpce.amazonaws.com/\""
                    ),
                    &connect_frames,
                ),
                Cause::LambdaTimeout => {
                    inv.info(rng.range(2500, 2700), &conn_line(engine, &s.username, &s.host));
                    return End::Timeout;
                }
                Cause::DbUnreachable => {
                    if matches!(engine, Engine::MySql | Engine::MariaDb) && (custom || variant < 30) {
                        for _ in 0..3 {
                            inv.error(
                                rng.range(4990, 5010),
                                &format!(
                                    "connect_and_authenticate: (2003, \"Can't connect to MySQL server on '{}' (timed out)\")",
                                    s.host
                                ),
                            );
                        }
                        login(inv, rng.range(100, 300));
                    } else {
                        login(inv, rng.range(10_000, 20_010));
                    }
                }
                Cause::CredentialsInvalid => {
                    if engine == Engine::Postgres && variant < 30 {
                        for _ in 0..2 {
                            inv.error(
                                rng.range(60, 120),
                                &format!(
                                    "connect_and_authenticate: FATAL:  password authentication failed for user \"{}\"",
                                    s.username
                                ),
                            );
                        }
                    } else if matches!(engine, Engine::MySql | Engine::MariaDb) && variant < 40 {
                        let ip = format!("10.0.{}.{}", rng.range(0, 8), rng.range(2, 250));
                        for _ in 0..2 {
                            inv.error(
                                rng.range(60, 110),
                                &format!(
                                    "get_connection: (1045, \"Access denied for user '{}'@'{ip}' (using password: YES)\")",
                                    s.username
                                ),
                            );
                        }
                    }
                    login(inv, rng.range(250, 450));
                }
                Cause::Scram => {
                    for who in ["pending", "pending", "current", "current", "previous", "previous"] {
                        inv.error(
                            rng.range(20, 32),
                            &format!(
                                "get_connection: {who} secret: SCRAM authentication requires libpq version 10 or above"
                            ),
                        );
                    }
                    login(inv, rng.range(8, 12));
                }
                Cause::RequiresTls => {
                    if custom && variant < 50 {
                        for _ in 0..2 {
                            inv.error(
                                rng.range(25, 45),
                                &format!(
                                    "get_connection: FATAL:  no pg_hba.conf entry for host \"10.0.{}.{}\", user \"{}\", database \"postgres\", SSL off",
                                    rng.range(0, 8),
                                    rng.range(2, 250),
                                    s.username
                                ),
                            );
                        }
                    } else {
                        for _ in 0..3 {
                            inv.error(
                                rng.range(38, 70),
                                &format!(
                                    "Unable to establish SSL/TLS handshake, SSL/TLS is enforced on the host: {}",
                                    s.host
                                ),
                            );
                        }
                    }
                    login(inv, rng.range(20, 70));
                }
                Cause::MasterDenied => {
                    inv.info(rng.range(600, 720), &conn_line(engine, &s.username, &s.host));
                    inv.unhandled(rng.range(60, 130), "ClientError", &master_denied, &master_frames);
                }
                Cause::DriverIncompatible => {
                    if engine == Engine::MongoDb {
                        inv.unhandled(
                            rng.range(90, 140),
                            "TypeError",
                            "'Collection' object is not callable. If you meant to call the 'authenticate' method on a 'Database' object it is failing because no such method exists.",
                            &[
                                set_frame.clone(),
                                tf(152, "set_secret", "conn = get_connection(current_dict)"),
                                tf(
                                    301,
                                    "get_connection",
                                    "db.authenticate(secret_dict['username'], secret_dict['password'])",
                                ),
                                frame(
                                    "/var/task/pymongo/collection.py",
                                    3213,
                                    "__call__",
                                    "raise TypeError(",
                                ),
                            ],
                        );
                    } else {
                        inv.unhandled(
                            rng.range(90, 140),
                            "TypeError",
                            "__init__() takes 1 positional argument but 5 were given",
                            &[
                                set_frame.clone(),
                                tf(154, "set_secret", "conn = get_connection(pending_dict)"),
                                tf(
                                    298,
                                    "get_connection",
                                    "conn = pymysql.connect(secret_dict['host'], secret_dict['username'], secret_dict['password'], dbname, port)",
                                ),
                            ],
                        );
                    }
                }
                Cause::Privileges => {
                    inv.info(rng.range(550, 650), &conn_line(engine, &s.username, &s.host));
                    inv.info(rng.range(180, 240), &conn_line(engine, &s.master_user, &s.host));
                    match engine {
                        Engine::Postgres => {
                            let frames = [
                                lh(81, "set_secret(service_client, arn, token)"),
                                tf(
                                    221,
                                    "set_secret",
                                    "cur.execute(\"CREATE ROLE %s WITH LOGIN PASSWORD %%s\" % pending_username, (pending_dict['password'],))",
                                ),
                                frame(
                                    "/var/task/pgdb.py",
                                    1071,
                                    "execute",
                                    "return self.executemany(operation, [parameters])",
                                ),
                                frame(
                                    "/var/task/pgdb.py",
                                    1108,
                                    "executemany",
                                    "raise _op_error(sql_error)",
                                ),
                            ];
                            inv.unhandled(
                                rng.range(50, 90),
                                "ProgrammingError",
                                "ERROR:  permission denied to create role",
                                &frames,
                            );
                        }
                        Engine::SqlServer => {
                            let frames = [
                                lh(81, "set_secret(service_client, arn, token)"),
                                tf(
                                    230,
                                    "set_secret",
                                    "cur.execute(\"ALTER LOGIN %s WITH PASSWORD = %%s\" % pending_dict['username'], pending_dict['password'])",
                                ),
                                frame(
                                    "src/pymssql/_pymssql.pyx",
                                    476,
                                    "pymssql._pymssql.Cursor.execute",
                                    "",
                                ),
                            ];
                            inv.unhandled(
                                rng.range(50, 90),
                                "OperationalError",
                                &format!(
                                    "(15151, b\"Cannot alter the login '{}_clone', because it does not exist or you do not have permission.DB-Lib error message 20018, severity 16:\\nGeneral SQL Server error: Check messages from the SQL Server\\n\")",
                                    s.username
                                ),
                                &frames,
                            );
                        }
                        _ => {
                            let mut frames = vec![
                                lh(81, "set_secret(service_client, arn, token)"),
                                tf(
                                    214,
                                    "set_secret",
                                    "cur.execute(\"CREATE USER %s IDENTIFIED BY %s\", (pending_dict['username'], pending_dict['password']))",
                                ),
                            ];
                            frames.extend(pymysql_frames());
                            inv.unhandled(
                                rng.range(50, 90),
                                "OperationalError",
                                "(1227, 'Access denied; you need (at least one of) the CREATE USER privilege(s) for this operation')",
                                &frames,
                            );
                        }
                    }
                }
                Cause::PasswordChars => {
                    inv.info(rng.range(1000, 1200), &conn_line(engine, &s.username, &s.host));
                    inv.unhandled(
                        rng.range(60, 100),
                        "DatabaseError",
                        "ORA-00922: missing or invalid option\nHelp: https://docs.oracle.com/error-help/db/ora-00922/",
                        &[
                            lh(80, "set_secret(service_client, arn, token)"),
                            tf(
                                197,
                                "set_secret",
                                "cur.execute(\"ALTER USER %s IDENTIFIED BY \\\"%s\\\"\" % (pending_dict['username'], pending_dict['password']))",
                            ),
                            frame(
                                "/var/task/oracledb/cursor.py",
                                701,
                                "execute",
                                "impl.execute(self)",
                            ),
                            frame(
                                "src/oracledb/impl/thin/cursor.pyx",
                                178,
                                "oracledb.thin_impl.ThinCursorImpl.execute",
                                "",
                            ),
                        ],
                    );
                }
                Cause::PendingMismatch => {
                    inv.info(rng.range(280, 340), &conn_line(engine, &s.username, &s.host));
                    let msg = format!(
                        "Attempting to modify user {}_admin other than current user {}",
                        s.app, s.username
                    );
                    inv.error(rng.range(40, 60), &format!("setSecret: {msg}"));
                    inv.unhandled(
                        1,
                        "ValueError",
                        &msg,
                        &[
                            set_frame.clone(),
                            tf(
                                171,
                                "set_secret",
                                "raise ValueError(\"Attempting to modify user %s other than current user %s\" % (pending_dict['username'], current_dict['username']))",
                            ),
                        ],
                    );
                }
                Cause::OutOfMemory => {
                    inv.info(rng.range(2000, 3000), &conn_line(engine, &s.username, &s.host));
                    inv.wait(rng.range(2000, 3000));
                    return End::OutOfMemory;
                }
                Cause::Unexplained => {
                    inv.info(
                        rng.range(50, 80),
                        &format!(
                            "setSecret: rotating {} on {} (audit ticket SEC-{})",
                            s.username,
                            s.host,
                            rng.range(1000, 9999)
                        ),
                    );
                    inv.unhandled(
                        rng.range(90, 150),
                        "NameError",
                        "name 'conn' is not defined",
                        &[
                            lh(79, "set_secret(service_client, arn, token)"),
                            tf(204, "set_secret", "with conn.cursor() as cur:"),
                        ],
                    );
                }
                _ => unreachable!("{cause:?} does not stop in setSecret"),
            }
            End::Returned
        })
    }

    fn fail_finish(&mut self, r: &Rot, env: &mut Env, at: Ms) -> Ms {
        let f = &self.world.functions[r.fi];
        let s = &self.world.secrets[r.si];
        let msg = denied(
            f,
            "UpdateSecretVersionStage",
            "UpdateSecretVersionStage",
            &s.arn,
            "because no identity-based policy allows the secretsmanager:UpdateSecretVersionStage action",
        );
        let mut frames = vec![
            lh(83, "finish_secret(service_client, arn, token)"),
            tf(
                284,
                "finish_secret",
                "service_client.update_secret_version_stage(SecretId=arn, VersionStage=\"AWSCURRENT\", MoveToVersionId=token, RemoveFromVersionId=current_version)",
            ),
        ];
        frames.extend(botocore_client_error(f));
        self.invoke(r, env, at, move |inv, rng, _, env| {
            inv.credentials(env, rng.range(25, 45));
            inv.unhandled(rng.range(150, 260), "ClientError", &msg, &frames);
            End::Returned
        })
    }

    // -----------------------------------------------------------------------------------------
    // Unrelated functions

    /// A burst of invocations of one API function in one environment.
    fn noise(&mut self, at: Ms) {
        let ai = self.rng.below(self.world.api_fns.len() as u32) as usize;
        let fi = self.world.api_fns[ai].function;
        let mut env = self.env(fi, at, false);
        let n = self.rng.range(3, 90);
        let mut t = at.max(env.busy_until + 1);
        for _ in 0..n {
            t = self.api_invocation(ai, &mut env, t);
            t += self.rng.range(150, 15_000);
            if t - at > 20 * 60 * 1000 {
                break;
            }
        }
        self.world.release(env);
    }

    fn api_invocation(&mut self, ai: usize, env: &mut Env, at: Ms) -> Ms {
        let a = &self.world.api_fns[ai];
        let f = &self.world.functions[a.function];
        let rng = &mut self.rng;
        let cold = env.cold;
        let mut inv = Inv::begin(rng, f, env, at);
        if cold && a.init_client && f.runtime == super::lambda::Runtime::Python {
            inv.init_credentials(env);
        }
        let id = rng.range(1000, 999_999);
        let method = *rng.pick(&["GET", "GET", "GET", "POST", "PUT", "DELETE"]);
        let res = a.resource;
        let route = format!("/{res}/{id}");
        let roll = rng.below(1000);
        let node = a.kind == ApiKind::Node;
        inv.info(
            rng.range(2, 9),
            &format!(
                "{method} {route} from 10.0.{}.{}",
                rng.range(0, 8),
                rng.range(2, 250)
            ),
        );
        if rng.chance(300) {
            inv.info(
                rng.range(5, 60),
                &format!(
                    "loaded {} item(s) from table {res}-{}",
                    rng.range(0, 40),
                    rng.pick(&["prod", "staging"])
                ),
            );
        }
        if rng.chance(50) && !node {
            self.stats.print_lines += 1;
            inv.print(
                rng.range(1, 20),
                &format!("cache miss for key {res}:{id}, fetching from origin"),
            );
        }
        let mut how = End::Returned;
        let mut status = 200;
        if roll < 40 {
            inv.log(
                rng.range(300, 900),
                "WARNING",
                "root",
                &format!(
                    "slow query on table {res}: {} ms (threshold 500 ms)",
                    rng.range(500, 2500)
                ),
            );
        } else if roll < 65 {
            inv.error(
                rng.range(100, 900),
                &format!("upstream returned 502 for {method} {route}; giving up after 3 attempts"),
            );
            status = 502;
        } else if roll < 73 {
            if node {
                inv.node_invoke_error(
                    rng.range(3, 30),
                    "TypeError",
                    "Cannot read properties of undefined (reading 'id')",
                    &[
                        "TypeError: Cannot read properties of undefined (reading 'id')",
                        "    at Runtime.handler (file:///var/task/index.mjs:27:41)",
                        "    at Runtime.handleOnceNonStreaming (file:///var/runtime/index.mjs:1173:29)",
                    ],
                );
            } else {
                inv.unhandled(
                    rng.range(3, 30),
                    "KeyError",
                    "'body'",
                    &[frame(
                        "/var/task/app.py",
                        41,
                        "handler",
                        "payload = json.loads(event['body'])",
                    )],
                );
            }
            status = 0;
        } else if roll < 77 && !node {
            let mut frames = vec![
                frame(
                    "/var/task/app.py",
                    88,
                    "handler",
                    "save_item(table, payload)",
                ),
                frame(
                    "/var/task/app.py",
                    131,
                    "save_item",
                    "table.put_item(Item=item)",
                ),
                frame(
                    &format!("{}/../boto3/resources/factory.py", f.botocore_dir()),
                    581,
                    "do_action",
                    "response = action(self, *args, **kwargs)",
                ),
                frame(
                    &format!("{}/../boto3/resources/action.py", f.botocore_dir()),
                    88,
                    "__call__",
                    "response = getattr(parent.meta.client, operation_name)(*args, **params)",
                ),
            ];
            frames.extend(botocore_client_error(f));
            inv.unhandled(
                rng.range(200, 1200),
                "ClientError",
                "An error occurred (ProvisionedThroughputExceededException) when calling the PutItem operation (reached max retries: 9): The level of configured provisioned throughput for the table was exceeded. Consider increasing your provisioning level with the UpdateTable API.",
                &frames,
            );
            status = 0;
        } else if roll < 79 && !node {
            let mut frames = vec![frame(
                "/var/task/app.py",
                41,
                "handler",
                "key = secrets.get_secret_value(SecretId=STRIPE_SECRET)['SecretString']",
            )];
            frames.extend(botocore_client_error(f));
            let msg = format!(
                "An error occurred (AccessDeniedException) when calling the GetSecretValue operation: User: arn:aws:sts::{}:assumed-role/{}/{} is not authorized to perform: secretsmanager:GetSecretValue on resource: arn:aws:secretsmanager:{}:{}:secret:prod/{res}/stripe-api-key-{} because no identity-based policy allows the secretsmanager:GetSecretValue action",
                f.account,
                f.role,
                f.name,
                f.region,
                f.account,
                rng.alnum(6)
            );
            inv.unhandled(rng.range(60, 120), "ClientError", &msg, &frames);
            status = 0;
        } else if roll < 81 {
            inv.info(
                rng.range(5, 20),
                &format!("calling partner API https://api.partner.example/v2/{res}/{id}"),
            );
            how = End::Timeout;
            status = 0;
        }
        if status != 0 {
            inv.info(
                rng.range(20, 160),
                &format!("{status} {method} {route} in {} ms", rng.range(20, 300)),
            );
        }
        let timed_out = matches!(how, End::Timeout);
        let b = inv.end(rng, env, how);
        if timed_out {
            env.cold = true;
            env.creds_logged = false;
        }
        self.emit(b, false);
        env.busy_until
    }
}
