package natsd

import (
	"cmp"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/gamepipe/gamepipe/internal/config"
)

// DefaultPort is the client port natsd listens on unless told otherwise. It
// is not 4222 so that it never collides with a NATS the machine already runs.
const DefaultPort = 4223

// DefaultSyncInterval is nats-server's own default for how often JetStream
// fsyncs its file store in the background.
const DefaultSyncInterval = 2 * time.Minute

// Config is what natsd runs with. The zero value is not valid; build one with
// ConfigFromEnv or fill every field and call Validate.
type Config struct {
	// Host is the interface the client (and monitoring) listeners bind to.
	// Defaults to 127.0.0.1: natsd is for one developer's machine.
	Host string
	// Port is the client port. Defaults to DefaultPort (4223); -1 picks a
	// free port (tests).
	Port int
	// MonitorPort, when not 0, serves nats-server's HTTP monitoring
	// endpoints (/healthz, /varz, /jsz, ...) on Host.
	MonitorPort int
	// StoreDir is the JetStream store directory. Defaults to
	// DefaultStoreDir($DATA_DIR), beside DATA_DIR rather than in it.
	StoreDir string
	// SyncInterval is how often JetStream fsyncs its file store in the
	// background. Defaults to DefaultSyncInterval (the server's default).
	SyncInterval time.Duration
	// SyncAlways makes JetStream fsync on every write (NATSD_SYNC_INTERVAL
	// "always", the default of ConfigFromEnv): a PubAck then means the
	// message is on disk.
	SyncAlways bool
	// Debug turns on the server's debug log lines.
	Debug bool
	// ServerName names the server; every member of a cluster needs its
	// own. Defaults to gamepipe-natsd.
	ServerName string
	// ClusterPort, when not 0, listens for the other members of a cluster
	// on Host; with Routes, the server joins them as one JetStream cluster.
	ClusterPort int
	// ClusterName names the cluster. Defaults to gamepipe.
	ClusterName string
	// Routes are the other members' cluster addresses, such as
	// nats-route://127.0.0.1:6223.
	Routes []string
	// Users, when set, are the only clients the server accepts, each with
	// its password and the subjects it may publish and subscribe to
	// (NATSD_USERS_FILE: a JSON array of nats-server users, {"user",
	// "password", "permissions": {"publish": {"allow": [...]}, "subscribe":
	// {...}}}). Empty: any local client is accepted.
	Users []*server.User
}

// ConfigFromEnv builds a Config from the environment, read through getenv,
// then applies command-line flags from args, which override it:
//
//	NATSD_PORT           -port        client port (default 4223)
//	NATSD_MONITOR_PORT   -http-port   monitoring port (default off)
//	NATSD_STORE_DIR      -store-dir   JetStream store (default $DATA_DIR-nats)
//	NATSD_SYNC_INTERVAL  -sync        "always" (default), or a duration such as 2m
//	NATSD_DEBUG          -debug       debug logging
//	NATSD_USERS_FILE     -users-file  the users and their permissions (JSON)
//
// DATA_DIR defaults to ./data. Usage and flag errors are written to usage.
func ConfigFromEnv(getenv func(string) string, args []string, usage io.Writer) (*Config, error) {
	dataDir := cmp.Or(getenv("DATA_DIR"), config.DefaultDataDir)
	port, err := envInt(getenv, "NATSD_PORT", DefaultPort)
	if err != nil {
		return nil, err
	}
	monitorPort, err := envInt(getenv, "NATSD_MONITOR_PORT", 0)
	if err != nil {
		return nil, err
	}
	debug := false
	if v := getenv("NATSD_DEBUG"); v != "" {
		if debug, err = strconv.ParseBool(v); err != nil {
			return nil, fmt.Errorf("NATSD_DEBUG: %q is not a boolean", v)
		}
	}

	fs := flag.NewFlagSet("natsd", flag.ContinueOnError)
	fs.SetOutput(usage)
	fs.IntVar(&port, "port", port, "client port (env NATSD_PORT)")
	fs.IntVar(&monitorPort, "http-port", monitorPort, "HTTP monitoring port, 0 for none (env NATSD_MONITOR_PORT)")
	storeDir := fs.String("store-dir", cmp.Or(getenv("NATSD_STORE_DIR"), DefaultStoreDir(dataDir)), "JetStream store directory (env NATSD_STORE_DIR)")
	sync := fs.String("sync", getenv("NATSD_SYNC_INTERVAL"), `JetStream fsync interval such as 2m, or "always" (env NATSD_SYNC_INTERVAL)`)
	fs.BoolVar(&debug, "debug", debug, "debug logging (env NATSD_DEBUG)")
	serverName := fs.String("name", getenv("NATSD_SERVER_NAME"), "server name, unique in a cluster (env NATSD_SERVER_NAME)")
	clusterPort, err := envInt(getenv, "NATSD_CLUSTER_PORT", 0)
	if err != nil {
		return nil, err
	}
	fs.IntVar(&clusterPort, "cluster-port", clusterPort, "cluster port, 0 for no cluster (env NATSD_CLUSTER_PORT)")
	clusterName := fs.String("cluster-name", getenv("NATSD_CLUSTER_NAME"), "cluster name (env NATSD_CLUSTER_NAME)")
	routes := fs.String("routes", getenv("NATSD_ROUTES"), "the other members' cluster URLs, comma-separated (env NATSD_ROUTES)")
	usersFile := fs.String("users-file", getenv("NATSD_USERS_FILE"), "JSON users and permissions; without it any local client connects (env NATSD_USERS_FILE)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}

	cfg := &Config{
		Host:         "127.0.0.1",
		Port:         port,
		MonitorPort:  monitorPort,
		StoreDir:     *storeDir,
		SyncInterval: DefaultSyncInterval,
		Debug:        debug,
		ServerName:   *serverName,
		ClusterPort:  clusterPort,
		ClusterName:  *clusterName,
	}
	for _, r := range strings.Split(*routes, ",") {
		if r = strings.TrimSpace(r); r != "" {
			cfg.Routes = append(cfg.Routes, r)
		}
	}
	if cfg.SyncInterval, cfg.SyncAlways, err = ParseSync(*sync); err != nil {
		return nil, err
	}
	if *usersFile != "" {
		if cfg.Users, err = ReadUsers(*usersFile); err != nil {
			return nil, err
		}
	}
	return cfg, cfg.Validate()
}

// DefaultStoreDir is where the JetStream store goes unless told otherwise:
// a sibling of dataDir named after it with "-nats" appended (./data-nats
// for ./data). It is kept out of DATA_DIR so that a store there is not
// caught by whatever fills or cleans DATA_DIR (blob uploads, exports, a
// reset of the local state); on a shared disk the blob store's
// BLOB_MIN_FREE_BYTES reserve is what leaves JetStream room, and a
// production NATS keeps its store on a volume of its own.
func DefaultStoreDir(dataDir string) string {
	d := filepath.Clean(dataDir)
	if b := filepath.Base(d); b == "." || b == ".." {
		// "." has no name to suffix: name the sibling after the real
		// directory.
		if abs, err := filepath.Abs(d); err == nil {
			d = abs
		}
	}
	return d + "-nats"
}

// ParseSync reads a NATSD_SYNC_INTERVAL value: empty or "always" for an
// fsync on every write (the default: a PubAck, and so a 200 from the api,
// then means the events are on disk; the interval stays at the server's
// default, as nats-server's own config parser does), or a positive duration
// for a background fsync on that interval (README.md, "What a 200 means").
func ParseSync(v string) (interval time.Duration, always bool, err error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "", "always":
		return DefaultSyncInterval, true, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, false, fmt.Errorf(`NATSD_SYNC_INTERVAL: %q is neither a positive duration (such as 2m) nor "always"`, v)
	}
	return d, false, nil
}

// Validate reports the first invalid field.
func (c *Config) Validate() error {
	switch {
	case c.Host == "":
		return errors.New("natsd: Host is empty")
	case c.Port != -1 && (c.Port < 1 || c.Port > 65535):
		return fmt.Errorf("NATSD_PORT: %d is not a port number", c.Port)
	case c.MonitorPort < 0 || c.MonitorPort > 65535:
		return fmt.Errorf("NATSD_MONITOR_PORT: %d is not a port number", c.MonitorPort)
	case c.MonitorPort != 0 && c.MonitorPort == c.Port:
		return fmt.Errorf("NATSD_MONITOR_PORT: %d is also the client port", c.MonitorPort)
	case c.StoreDir == "":
		return errors.New("NATSD_STORE_DIR: empty")
	case c.SyncInterval <= 0:
		return fmt.Errorf("NATSD_SYNC_INTERVAL: %s is not positive", c.SyncInterval)
	case c.ClusterPort < 0 || c.ClusterPort > 65535:
		return fmt.Errorf("NATSD_CLUSTER_PORT: %d is not a port number", c.ClusterPort)
	case len(c.Routes) > 0 && c.ClusterPort == 0:
		return errors.New("NATSD_ROUTES: a cluster member needs NATSD_CLUSTER_PORT")
	}
	for _, r := range c.Routes {
		if u, err := url.Parse(r); err != nil || u.Scheme != "nats-route" || u.Host == "" {
			return fmt.Errorf("NATSD_ROUTES: %q is not a URL such as nats-route://127.0.0.1:6223", r)
		}
	}
	for i, u := range c.Users {
		if u == nil || u.Username == "" || u.Password == "" {
			return fmt.Errorf("NATSD_USERS_FILE: user %d has no name or no password", i)
		}
	}
	return nil
}

// ReadUsers reads a NATSD_USERS_FILE. Its errors never print a password.
func ReadUsers(path string) ([]*server.User, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("NATSD_USERS_FILE: %w", err)
	}
	var users []*server.User
	if err := json.Unmarshal(raw, &users); err != nil {
		return nil, fmt.Errorf("NATSD_USERS_FILE %s: not a JSON array of users", path)
	}
	if len(users) == 0 {
		return nil, fmt.Errorf("NATSD_USERS_FILE %s: no users", path)
	}
	return users, nil
}

func envInt(getenv func(string) string, name string, def int) (int, error) {
	v := getenv(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Errorf("%s: %q is not a number", name, v)
	}
	return n, nil
}
