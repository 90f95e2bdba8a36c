/// SQLite storage through GRDB: pool, migrations, query metrics, group commit (issue 4).
enum SidecarStore {}
