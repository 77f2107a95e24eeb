// Package roletest runs a test's NATS closed as `make run` and
// docker-compose.yml close theirs: only gamepipe's role users
// (eventstream.Roles), each allowed exactly its role's permissions. It is
// imported only from _test.go files.
package roletest

import (
	"encoding/json"
	"testing"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/gamepipe/gamepipe/internal/eventstream"
	"github.com/gamepipe/gamepipe/internal/natstest"
)

// Run starts a server like natstest.Run that accepts only the role users
// and the test's own user (ConnectAdmin), allowed everything, for setting
// up and looking. Credentials gives a role's user and password.
func Run(t testing.TB) *natstest.Server {
	t.Helper()
	users := append(Users(t), &server.User{Username: adminUser, Password: adminPassword})
	return natstest.RunWith(t, func(o *server.Options) { o.Users = users })
}

// Users are the nats-server users of every role, with the passwords
// Credentials gives, read from the JSON natsd reads.
func Users(t testing.TB) []*server.User {
	t.Helper()
	passwords := map[eventstream.Role]string{}
	for _, r := range eventstream.Roles {
		passwords[r] = password(r)
	}
	users, err := eventstream.ServerUsers(passwords)
	if err != nil {
		t.Fatalf("roletest: %v", err)
	}
	raw, err := json.Marshal(users)
	if err != nil {
		t.Fatalf("roletest: %v", err)
	}
	var out []*server.User
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("roletest: %v", err)
	}
	return out
}

// Credentials are role's user and password on a Run server.
func Credentials(r eventstream.Role) eventstream.Credentials {
	return eventstream.Credentials{User: string(r), Password: password(r)}
}

func password(r eventstream.Role) string { return string(r) + "-test-password" }

// ConnectAs opens a connection to s as role's user, with the role's inbox
// prefix, closed at cleanup.
func ConnectAs(t testing.TB, s *natstest.Server, r eventstream.Role) *nats.Conn {
	t.Helper()
	opts, err := eventstream.ConnectOptions(r, Credentials(r))
	if err != nil {
		t.Fatalf("roletest: %v", err)
	}
	nc, err := nats.Connect(s.ClientURL(), opts...)
	if err != nil {
		t.Fatalf("roletest: connect as %s: %v", r, err)
	}
	t.Cleanup(nc.Close)
	return nc
}

const adminUser, adminPassword = "roletest-admin", "roletest-admin-password"

// ConnectAdmin opens a connection to s as the test's own user, allowed
// everything, closed at cleanup.
func ConnectAdmin(t testing.TB, s *natstest.Server) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(s.ClientURL(), nats.UserInfo(adminUser, adminPassword))
	if err != nil {
		t.Fatalf("roletest: connect as %s: %v", adminUser, err)
	}
	t.Cleanup(nc.Close)
	return nc
}
