package devrun

import (
	"cmp"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/gamepipe/gamepipe/internal/config"
	"github.com/gamepipe/gamepipe/internal/devrun/natsd"
)

// Defaults devrun shares with the gamepipe binaries.
const (
	DefaultNATSURL  = config.DefaultNatsURL
	DefaultDataDir  = config.DefaultDataDir
	DefaultHTTPAddr = config.DefaultHTTPAddr
)

// Config is what devrun runs with.
type Config struct {
	// BinDir holds the binaries `make build` wrote: gamepipe, api, worker,
	// exporter, natsd and, if built, upstreamsim. Defaults to ./bin.
	BinDir string
	// DataDir is DATA_DIR, shared with the children: demo-app.json,
	// demo-event.msgpack, blobs and exports live there. Defaults to ./data.
	DataDir string
	// NATSDStoreDir is the JetStream store of a natsd devrun starts
	// (NATSD_STORE_DIR). Defaults to natsd.DefaultStoreDir(DataDir), beside
	// DATA_DIR and not in it, so uploads filling DATA_DIR or a reset of it
	// leave JetStream alone.
	NATSDStoreDir string
	// NATSURL is the NATS to use if it will do (NATS_URL). Defaults to
	// nats://127.0.0.1:4222.
	NATSURL string
	// NATSAuth are the credentials for the NATS at NATSURL (NATS_USER,
	// NATS_PASSWORD, NATS_PASSWORD_FILE, NATS_NKEY_SEED_FILE): devrun
	// checks that server with them, and the children get them unchanged.
	// A natsd devrun starts has users of its own (EnsureNATSUsers).
	NATSAuth config.NATSAuth
	// NATSDPort is the port natsd listens on when devrun starts it
	// (NATSD_PORT). Defaults to 4223.
	NATSDPort int
	// NATSCheckTimeout bounds connecting to NATSURL to decide. Defaults to 2s.
	NATSCheckTimeout time.Duration
	// NATSReadyTimeout bounds waiting for a started natsd. Defaults to 30s.
	NATSReadyTimeout time.Duration
	// HTTPAddr is the api's listen address (HTTP_ADDR), for the printed curl
	// command. Defaults to :4000.
	HTTPAddr string
	// StopTimeout is how long children get after SIGTERM before they are
	// killed (DEVRUN_STOP_TIMEOUT). Defaults to 15s.
	StopTimeout time.Duration
	// Env is the environment the children start from; devrun sets NATS_URL,
	// DATA_DIR and, unless set, LOG_FORMAT=console on top of it.
	Env []string
	// Color turns on coloured labels.
	Color bool
	// Cluster runs the scaled-out topology (DEVRUN_CLUSTER=1, make
	// cluster): three natsd as one cluster, two apis, two workers and an
	// exporter, with STREAM_REPLICAS=3 and BLOB_STORE=postgres unless set
	// (or BLOB_URL is; docs/scaling.md).
	Cluster bool
}

// ConfigFromEnv builds a Config from the environment read through getenv;
// environ is the whole environment, passed on to the children.
func ConfigFromEnv(getenv func(string) string, environ []string) (*Config, error) {
	cfg := &Config{
		BinDir:        getenv("DEVRUN_BIN_DIR"),
		DataDir:       getenv("DATA_DIR"),
		NATSDStoreDir: getenv("NATSD_STORE_DIR"),
		NATSURL:       getenv("NATS_URL"),
		HTTPAddr:      getenv("HTTP_ADDR"),
		Env:           environ,
		Color:         getenv("NO_COLOR") == "" && getenv("TERM") != "dumb",
		Cluster:       getenv("DEVRUN_CLUSTER") == "1",
	}
	auth, err := config.NATSAuthFromEnv(getenv)
	if err != nil {
		return nil, err
	}
	cfg.NATSAuth = auth
	if v := getenv("NATSD_PORT"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return nil, fmt.Errorf("NATSD_PORT: %q is not a number", v)
		}
		cfg.NATSDPort = n
	}
	if v := getenv("DEVRUN_STOP_TIMEOUT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return nil, fmt.Errorf("DEVRUN_STOP_TIMEOUT: %q is not a duration", v)
		}
		cfg.StopTimeout = d
	}
	return cfg, cfg.validate() // which fills in the defaults
}

// setDefaults fills the zero fields.
func (c *Config) setDefaults() {
	c.BinDir = cmp.Or(c.BinDir, "./bin")
	c.DataDir = cmp.Or(c.DataDir, DefaultDataDir)
	c.NATSDStoreDir = cmp.Or(c.NATSDStoreDir, natsd.DefaultStoreDir(c.DataDir))
	c.NATSURL = cmp.Or(c.NATSURL, DefaultNATSURL)
	c.NATSDPort = cmp.Or(c.NATSDPort, natsd.DefaultPort)
	c.NATSCheckTimeout = cmp.Or(c.NATSCheckTimeout, 2*time.Second)
	c.NATSReadyTimeout = cmp.Or(c.NATSReadyTimeout, 30*time.Second)
	c.HTTPAddr = cmp.Or(c.HTTPAddr, DefaultHTTPAddr)
	c.StopTimeout = cmp.Or(c.StopTimeout, DefaultStopTimeout)
}

func (c *Config) validate() error {
	c.setDefaults()
	switch {
	case c.NATSDPort < 1 || c.NATSDPort > 65535:
		return fmt.Errorf("NATSD_PORT: %d is not a port number", c.NATSDPort)
	case c.StopTimeout < 0:
		return errors.New("DEVRUN_STOP_TIMEOUT: negative")
	}
	if _, _, err := net.SplitHostPort(c.HTTPAddr); err != nil {
		return fmt.Errorf("HTTP_ADDR: %q is not host:port", c.HTTPAddr)
	}
	return nil
}

// apiBase is the URL a developer reaches the api at: localhost unless
// HTTPAddr names a specific host.
func (c *Config) apiBase() string {
	host, port, _ := net.SplitHostPort(c.HTTPAddr)
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// apiDialAddr is where devrun checks that the api is listening.
func (c *Config) apiDialAddr() string {
	host, port, _ := net.SplitHostPort(c.HTTPAddr)
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}
