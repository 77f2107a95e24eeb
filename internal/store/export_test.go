package store

// MigrateFS applies the migrations of any file system, so a test can change
// a migration after it was applied.
var MigrateFS = migrate
