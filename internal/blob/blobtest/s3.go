package blobtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/gamepipe/gamepipe/internal/blob"
)

// S3Server is a real S3-compatible server started for a test: SeaweedFS's
// weed, built from the version pinned in tools/weed/go.mod by `make weed`
// into bin/weed (or found at WEED_BIN). It listens on loopback only and is
// stopped when the test that started it ends.
type S3Server struct {
	// Endpoint is its S3 address, host:port.
	Endpoint string
	// AccessKey and SecretKey are its admin identity's.
	AccessKey string
	SecretKey string
	// Client is a client of the admin identity, for what a test checks
	// behind a store's back.
	Client *minio.Client
}

// s3StartTimeout bounds a weed start: master, volume, filer and gateway
// on a busy machine.
const s3StartTimeout = 2 * time.Minute

// errWeedMissing says the weed binary is not built.
var errWeedMissing = errors.New("bin/weed is missing: run `make weed` (or set WEED_BIN)")

// StartS3 starts an S3Server for t. Without the weed binary the test is
// skipped on a developer's machine and fails in CI (CI set), where
// `make test` builds it first.
func StartS3(t *testing.T) *S3Server {
	t.Helper()
	srv, err := startS3(t)
	RequireS3(t, err)
	return srv
}

// RequireS3 ends t as StartS3 does when a server could not be started.
func RequireS3(t *testing.T, err error) {
	t.Helper()
	switch {
	case err == nil:
	case errors.Is(err, errWeedMissing) && os.Getenv("CI") == "":
		t.Skip("skipping the S3 store: " + err.Error())
	default:
		t.Fatalf("S3 server: %v", err)
	}
}

// weedPath finds the weed binary: WEED_BIN, or bin/weed at the module's
// root.
func weedPath() (string, error) {
	if p := os.Getenv("WEED_BIN"); p != "" {
		return p, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if mod, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil &&
			bytes.HasPrefix(mod, []byte("module github.com/gamepipe/gamepipe\n")) {
			p := filepath.Join(dir, "bin", "weed")
			if _, err := os.Stat(p); err != nil {
				return "", errWeedMissing
			}
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errWeedMissing
		}
		dir = parent
	}
}

// s3StartAttempts is how many times a start is tried when weed finds one
// of its ports taken: freePorts closes its listeners before weed binds
// them, and on a busy machine another process can take one in between.
const s3StartAttempts = 3

// errPortTaken says weed exited because a port it was given was taken.
var errPortTaken = errors.New("a port weed was given was taken before it bound it")

// startS3 starts weed, on other ports when one it was given was taken.
func startS3(t *testing.T) (*S3Server, error) {
	var err error
	for range s3StartAttempts {
		var srv *S3Server
		if srv, err = startS3Once(t); !errors.Is(err, errPortTaken) {
			return srv, err
		}
	}
	return nil, err
}

// startS3Once starts `weed server` in a temporary directory on free
// loopback ports, with everything but the master, volume, filer and S3
// gateway off, and waits until its gateway answers.
func startS3Once(t *testing.T) (*S3Server, error) {
	bin, err := weedPath()
	if err != nil {
		return nil, err
	}
	dir := t.TempDir()
	ports, err := freePorts(8)
	if err != nil {
		return nil, err
	}
	srv := &S3Server{
		Endpoint:  "127.0.0.1:" + strconv.Itoa(ports[6]),
		AccessKey: "gamepipe-test",
		SecretKey: randomHex(16),
	}
	// A master, a volume server, a filer and the S3 gateway in one
	// process; weed's telemetry is off, and its gRPC sockets, which it
	// puts in /tmp under its ports, are removed when it stops.
	args := []string{"-logtostderr", "server", "-dir=" + dir,
		"-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-master.telemetry=false",
		"-master.port=" + strconv.Itoa(ports[0]), "-master.port.grpc=" + strconv.Itoa(ports[1]),
		"-master.volumeSizeLimitMB=64", "-volume.max=0",
		"-volume.port=" + strconv.Itoa(ports[2]), "-volume.port.grpc=" + strconv.Itoa(ports[3]),
		"-filer", "-filer.port=" + strconv.Itoa(ports[4]), "-filer.port.grpc=" + strconv.Itoa(ports[5]),
		"-filer.localSocket=" + filepath.Join(dir, "filer.sock"),
		"-s3", "-s3.port=" + strconv.Itoa(ports[6]), "-s3.port.grpc=" + strconv.Itoa(ports[7]),
		"-s3.port.iceberg=0", "-s3.port.lance=0", "-s3.localSocket=" + filepath.Join(dir, "s3.sock"),
	}
	sockets := []string{}
	for name, port := range map[string]int{"master": ports[1], "volume": ports[3], "filer": ports[5], "s3": ports[7]} {
		sockets = append(sockets, fmt.Sprintf("/tmp/seaweedfs-%s-grpc-%d.sock", name, port))
	}
	logPath := filepath.Join(dir, "weed.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID="+srv.AccessKey, "AWS_SECRET_ACCESS_KEY="+srv.SecretKey)
	// It dies with the test binary, however that ends.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		_ = logFile.Close()
		return nil, fmt.Errorf("error starting %s: %w", bin, err)
	}
	// exited is closed once weed has exited, with waitErr set; both
	// waitReady and the cleanup wait on it.
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		// Its data is the test's, thrown away: no need for weed's slow
		// graceful stop.
		_ = cmd.Process.Kill()
		<-exited
		_ = logFile.Close()
		for _, p := range sockets {
			_ = os.Remove(p)
		}
	})

	srv.Client, err = minio.New(srv.Endpoint, &minio.Options{
		Creds:        credentials.NewStaticV4(srv.AccessKey, srv.SecretKey, ""),
		BucketLookup: minio.BucketLookupPath,
	})
	if err != nil {
		return nil, err
	}
	if err := srv.waitReady(exited, &waitErr); err != nil {
		out, _ := os.ReadFile(logPath)
		if bytes.Contains(out, []byte("address already in use")) {
			err = fmt.Errorf("%w (%w)", errPortTaken, err)
		}
		return nil, fmt.Errorf("%w; weed's log:\n%s", err, tail(out, 4000))
	}
	return srv, nil
}

// s3Bucket is the bucket every store of a server shares, each under a
// prefix of its own.
const s3Bucket = "gamepipe-test"

// waitReady waits until the gateway stores an object, which needs the
// master, a volume and the filer too, in a new bucket s3Bucket; or until
// weed exits (exited closed, *waitErr its end).
func (s *S3Server) waitReady(exited <-chan struct{}, waitErr *error) error {
	deadline := time.Now().Add(s3StartTimeout)
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return fmt.Errorf("weed exited: %v", *waitErr)
		default:
		}
		if last = s.probe(); last == nil {
			return nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("weed's S3 gateway at %s not ready after %s: %v", s.Endpoint, s3StartTimeout, last)
}

func (s *S3Server) probe() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := s.Client.MakeBucket(ctx, s3Bucket, minio.MakeBucketOptions{})
	if err != nil && minio.ToErrorResponse(err).Code != "BucketAlreadyOwnedByYou" {
		return err // an earlier try's answer may have been lost
	}
	if _, err := s.Client.PutObject(ctx, s3Bucket, "probe", strings.NewReader("ready"), 5, minio.PutObjectOptions{}); err != nil {
		return err
	}
	return s.Client.RemoveObject(ctx, s3Bucket, "probe", minio.RemoveObjectOptions{})
}

// Location returns a place of its own for a test's store: a new prefix
// in the server's bucket, signed with the admin identity.
func (s *S3Server) Location() blob.S3Location {
	return blob.S3Location{Endpoint: s.Endpoint, Bucket: s3Bucket, Prefix: "t-" + randomHex(8) + "/",
		AccessKey: s.AccessKey, SecretKey: s.SecretKey}
}

func freePorts(n int) ([]int, error) {
	var ports []int
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			_ = ln.Close()
		}
	}()
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
