import GRDB

/// The store's schema as an ordered list of named migrations.
///
/// `DatabaseMigrator` records applied migrations in `grdb_migrations`, so opening a store twice (or
/// with a newer build) only runs what is missing. Never edit a shipped migration: append a new one.
enum RunStoreSchema {
    /// All migrations, oldest first.
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: runs, metrics, evaluations, probes, comparisons") { db in
            try db.create(table: "runs") { t in
                t.primaryKey("id", .text)
                t.column("name", .text).notNull()
                t.column("kind", .text).notNull()
                t.column("spec_json", .text).notNull()
                t.column("config_json", .text).notNull()
                t.column("created_at", .datetime).notNull()
                t.column("updated_at", .datetime).notNull()
                t.column("status", .text).notNull()
                t.column("directory", .text).notNull()
                t.column("parameter_count", .integer).notNull()
                t.column("seed", .integer).notNull()
                t.column("threads", .integer).notNull()
                t.column("summary_json", .text)
            }
            try db.create(index: "runs_created_at", on: "runs", columns: ["created_at"])

            // Child rows cascade with their run, so one DELETE on `runs` removes a run completely.
            try db.create(table: "metrics") { t in
                t.column("run_id", .text).notNull().references("runs", onDelete: .cascade)
                t.column("step", .integer).notNull()
                t.column("name", .text).notNull()
                t.column("value", .double)
            }
            try db.create(index: "metrics_run_name", on: "metrics", columns: ["run_id", "name"])

            try db.create(table: "evaluations") { t in
                t.column("run_id", .text).notNull().indexed().references("runs", onDelete: .cascade)
                t.column("step", .integer).notNull()
                t.column("split", .text).notNull()
                t.column("loss", .double)
                t.column("bpb", .double)
                t.column("tokens_seen", .integer).notNull()
                t.column("elapsed_s", .double).notNull()
            }

            try db.create(table: "probes") { t in
                t.column("run_id", .text).notNull().indexed().references("runs", onDelete: .cascade)
                t.column("step", .integer).notNull()
                t.column("layer", .integer).notNull()
                t.column("name", .text).notNull()
                t.column("value", .double)
            }

            try db.create(table: "comparisons") { t in
                t.column("compare_id", .text).notNull().references("runs", onDelete: .cascade)
                t.column("run_id", .text).notNull().indexed().references("runs", onDelete: .cascade)
                t.column("label", .text).notNull()
                t.column("seed", .integer).notNull()
                t.primaryKey(["compare_id", "run_id"])
            }
        }
        migrator.registerMigration("v2: evaluations.accuracy") { db in
            // Held-out accuracy of capability tasks (exact match per scored position), next to their loss.
            try db.alter(table: "evaluations") { t in t.add(column: "accuracy", .double) }
        }
        return migrator
    }
}
