// Package dbtest gives tests their own migrated Postgres schema, so tests run
// in parallel against real Postgres without seeing each other's rows. It is
// imported only from _test.go files.
package dbtest

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gamepipe/gamepipe/internal/store"
)

// DefaultURL is the test database used unless TEST_DATABASE_URL says otherwise.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/gamepipe_test?sslmode=disable"

// schemaTTL is how old a leftover schema (from a killed test run) must be
// before a later run drops it.
const schemaTTL = 2 * time.Hour

var (
	prepareOnce sync.Once
	prepareErr  error
)

// URL returns the test database's URL.
func URL() string {
	return cmp.Or(os.Getenv("TEST_DATABASE_URL"), DefaultURL)
}

// Schema is one test's migrated schema.
type Schema struct {
	// Name is the schema's name.
	Name string
	// URL connects with search_path set to the schema; give it to
	// subprocesses and anything that builds its own pool.
	URL string
	// Pool is a pool whose connections use the schema.
	Pool *pgxpool.Pool
}

// NewSchema creates a fresh schema, applies every migration (gamepipe's and
// River's) to it, and drops it when the test ends.
func NewSchema(t testing.TB) *Schema {
	t.Helper()
	ctx := context.Background()

	prepareOnce.Do(func() { prepareErr = prepare(ctx) })
	if prepareErr != nil {
		t.Fatalf("dbtest: %v", prepareErr)
	}

	name := schemaName(t)
	admin, err := pgx.Connect(ctx, URL())
	if err != nil {
		t.Fatalf("dbtest: error connecting: %v", err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+name); err != nil {
		t.Fatalf("dbtest: error creating schema: %v", err)
	}

	u, err := url.Parse(URL())
	if err != nil {
		t.Fatalf("dbtest: bad url: %v", err)
	}
	q := u.Query()
	q.Set("search_path", name)
	u.RawQuery = q.Encode()

	s := &Schema{Name: name, URL: u.String()}
	cfg, err := pgxpool.ParseConfig(s.URL)
	if err != nil {
		t.Fatalf("dbtest: %v", err)
	}
	cfg.MaxConns = 10
	store.ConfigurePool(cfg)
	s.Pool, err = pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatalf("dbtest: error creating pool: %v", err)
	}
	t.Cleanup(func() {
		s.Pool.Close()
		ctx := context.WithoutCancel(ctx)
		conn, err := pgx.Connect(ctx, URL())
		if err != nil {
			return
		}
		defer conn.Close(ctx)
		_, _ = conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+name+" CASCADE")
	})
	if _, err := store.Migrate(ctx, s.Pool); err != nil {
		t.Fatalf("dbtest: error migrating schema %s: %v", name, err)
	}
	return s
}

// prepare creates the test database if needed and drops schemas that
// earlier, killed runs left behind.
func prepare(ctx context.Context) error {
	if err := store.EnsureDatabase(ctx, URL()); err != nil {
		return err
	}
	conn, err := pgx.Connect(ctx, URL())
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT nspname FROM pg_namespace WHERE nspname LIKE 't\_%'`)
	if err != nil {
		return err
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return err
	}
	for _, n := range names {
		if ts, ok := schemaTime(n); ok && time.Since(ts) > schemaTTL {
			_, _ = conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{n}.Sanitize()+" CASCADE")
		}
	}
	return nil
}

var nonWord = regexp.MustCompile(`[^a-z0-9]+`)

// schemaName is t_<unix>_<test>_<random>: unique, valid unquoted, and dated
// so a later run can drop leftovers.
func schemaName(t testing.TB) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	test := nonWord.ReplaceAllString(strings.ToLower(t.Name()), "_")
	// River derives LISTEN channel names from the schema, and Postgres
	// caps identifiers at 63 bytes: keep the schema name short.
	if len(test) > 12 {
		test = test[:12]
	}
	return fmt.Sprintf("t_%d_%s_%s", time.Now().Unix(), strings.Trim(test, "_"), hex.EncodeToString(b[:]))
}

func schemaTime(name string) (time.Time, bool) {
	var unix int64
	if _, err := fmt.Sscanf(name, "t_%d_", &unix); err != nil {
		return time.Time{}, false
	}
	return time.Unix(unix, 0), true
}
