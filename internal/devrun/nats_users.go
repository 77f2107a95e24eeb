package devrun

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/crypto/bcrypt"

	"github.com/gamepipe/gamepipe/internal/eventstream"
)

// NATSAuthDir is the directory in DATA_DIR where devrun keeps the users of
// the natsd it starts: a password per role (<role>.password) and natsd's
// users file (users.json, with bcrypt hashes), all mode 0600.
const NATSAuthDir = "nats-auth"

// natsUsers are the credentials of the natsd devrun starts.
type natsUsers struct {
	// file is natsd's NATSD_USERS_FILE.
	file string
	// passwordFiles are each role's NATS_PASSWORD_FILE.
	passwordFiles map[eventstream.Role]string
	// creds are each role's user and password, for devrun's own checks.
	creds map[eventstream.Role]eventstream.Credentials
}

// EnsureNATSUsers makes the users of a natsd that admits only gamepipe's
// processes, each allowed its role's subjects (eventstream.Role.Permissions):
// on the first start a random password per role, kept in
// DATA_DIR/nats-auth/<role>.password and reused on later starts; at every
// start natsd's users file, with the passwords' bcrypt hashes, so it always
// holds the current permissions.
func EnsureNATSUsers(dataDir string) (*natsUsers, error) {
	dir := filepath.Join(dataDir, NATSAuthDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("error creating %s: %w", dir, err)
	}
	u := &natsUsers{file: filepath.Join(dir, "users.json"), passwordFiles: map[eventstream.Role]string{},
		creds: map[eventstream.Role]eventstream.Credentials{}}
	hashes := map[eventstream.Role]string{}
	for _, r := range eventstream.Roles {
		path := filepath.Join(dir, string(r)+".password")
		pw, err := ensurePassword(path)
		if err != nil {
			return nil, err
		}
		// natsd keeps only a bcrypt hash of each password.
		hash, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.DefaultCost)
		if err != nil {
			return nil, fmt.Errorf("error hashing the NATS password of %s: %w", r, err)
		}
		hashes[r], u.passwordFiles[r] = string(hash), path
		u.creds[r] = eventstream.Credentials{User: string(r), Password: pw}
	}
	users, err := eventstream.ServerUsers(hashes)
	if err != nil {
		return nil, err
	}
	raw, err := json.MarshalIndent(users, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("error encoding natsd's users: %w", err)
	}
	if err := writePrivate(u.file, raw); err != nil {
		return nil, err
	}
	return u, nil
}

// ensurePassword reads the password in path, creating it (128 random bits,
// rand.Text, mode 0600) when the file does not exist.
func ensurePassword(path string) (string, error) {
	raw, err := os.ReadFile(path)
	if err == nil {
		if pw := strings.TrimSpace(string(raw)); pw != "" {
			return pw, nil
		}
		return "", fmt.Errorf("%s is empty: delete it and devrun makes a new password", path)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("error reading %s: %w", path, err)
	}
	pw := rand.Text()
	if err := writePrivate(path, []byte(pw+"\n")); err != nil {
		return "", err
	}
	return pw, nil
}

// writePrivate writes data to path, readable by its owner only, through a
// temporary file renamed into place.
func writePrivate(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return fmt.Errorf("error writing %s: %w", path, err)
	}
	if err := os.Chmod(tmp, 0o600); err != nil { // an older tmp kept its mode
		return fmt.Errorf("error writing %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("error writing %s: %w", path, err)
	}
	return nil
}

// env is the NATS credentials of a process that runs binary bin: its role's
// user and password file when bin is a role's, and in every case no other
// credentials the developer's environment may hold.
func (u *natsUsers) env(bin string) map[string]string {
	set := map[string]string{"NATS_USER": "", "NATS_PASSWORD": "", "NATS_PASSWORD_FILE": "", "NATS_NKEY_SEED_FILE": ""}
	if path, ok := u.passwordFiles[eventstream.Role(bin)]; ok {
		set["NATS_USER"], set["NATS_PASSWORD_FILE"] = bin, path
	}
	return set
}
