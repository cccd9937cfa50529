//! End-to-end tests of the example service: a fleet of `users-service` processes under
//! load while attrmig's engine walks the migration, on SQLite, PostgreSQL and
//! MySQL/MariaDB. What they prove is in docs/app.md, "The example service and what its
//! tests prove".

mod support;

/// All ten steps under load: no acknowledged write lost, no persistent mismatch.
mod ten_steps;

/// Refusals that name instances: a planted double-write bug at 5b, a pinned one at 7.
mod refusals;

/// Failures for real: SIGKILL of an instance, the state database stopped.
mod failures;
