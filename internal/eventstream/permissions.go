package eventstream

import (
	"fmt"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Role is a gamepipe process that connects to NATS. Each has a NATS user of
// its own, allowed exactly what its code does (docs/architecture.md, "Who
// may do what on NATS").
type Role string

// The roles. Every copy of a process shares its role's user.
const (
	RoleAPI      Role = "api"
	RoleWorker   Role = "worker"
	RoleExporter Role = "exporter"
)

// Roles are every role, in the order the docs list them.
var Roles = []Role{RoleAPI, RoleWorker, RoleExporter}

// ExportFlushSubject is the core NATS subject on which the api asks every
// exporter to flush (package export's FlushSubject).
const ExportFlushSubject = "gamepipe.export.flush"

// NotifySubjects matches every job notification subject (NotifySubject).
const NotifySubjects = "gamepipe.events.>"

// Permissions are the subjects a role's user may publish and subscribe to.
type Permissions struct {
	Publish   []string
	Subscribe []string
	// AllowResponses lets the user answer each request it receives once,
	// within the server's default 2 minutes, whatever its reply subject
	// (nats-server's allow_responses).
	AllowResponses bool
}

// InboxPrefix is where the role's replies arrive (JetStream API answers,
// PubAcks, pulled messages, flush replies): _INBOX.<role>, so that only the
// role's own user may subscribe to them.
func (r Role) InboxPrefix() string { return "_INBOX." + string(r) }

// Permissions are what r's code does, and nothing more:
//
//   - api: publishes telemetry and asks exporters to flush; ensures both
//     streams; subscribes to the job notifications that wake its event
//     streams.
//   - worker: pulls and acks the sink consumer, publishes job notifications;
//     creates TELEMETRY when missing (never changes it) and ensures
//     GAMEPIPE_EVENTS.
//   - exporter: pulls and acks the exporter consumer, reads one stored
//     message to date its progress, answers flush requests; creates
//     TELEMETRY when missing.
func (r Role) Permissions() (Permissions, error) {
	inbox := []string{r.InboxPrefix() + ".>"}
	switch r {
	case RoleAPI:
		return Permissions{
			Publish: concat([]string{SubjectsFilter, ExportFlushSubject, jsAPI("INFO")},
				streamAdmin(StreamName), streamAdmin(NotifyStreamName)),
			Subscribe: append(inbox, NotifySubjects),
		}, nil
	case RoleWorker:
		return Permissions{
			Publish: concat([]string{NotifySubjects, jsAPI("INFO")},
				streamOpen(StreamName), streamAdmin(NotifyStreamName), consumerUse(ConsumerSink)),
			Subscribe: inbox,
		}, nil
	case RoleExporter:
		return Permissions{
			Publish: concat([]string{jsAPI("INFO"), jsAPI("STREAM.MSG.GET." + StreamName)},
				streamOpen(StreamName), consumerUse(ConsumerExporter)),
			Subscribe:      append(inbox, ExportFlushSubject),
			AllowResponses: true,
		}, nil
	}
	return Permissions{}, fmt.Errorf("unknown NATS role %q: use api, worker or exporter", r)
}

// jsAPI is a JetStream API subject.
func jsAPI(s string) string { return jetstream.DefaultAPIPrefix + s }

// streamOpen reads a stream and creates it when it is missing
// (OpenStreamReplicas).
func streamOpen(stream string) []string {
	return []string{jsAPI("STREAM.INFO." + stream), jsAPI("STREAM.CREATE." + stream)}
}

// streamAdmin also updates the stream to the configured limits
// (EnsureStream, EnsureNotifyStreamConfig).
func streamAdmin(stream string) []string {
	return append(streamOpen(stream), jsAPI("STREAM.UPDATE."+stream))
}

// consumerUse ensures a durable consumer on TELEMETRY (its info, and its
// creation with a filter subject), pulls from it and acks its messages.
func consumerUse(durable string) []string {
	return []string{
		jsAPI("CONSUMER.INFO." + StreamName + "." + durable),
		jsAPI("CONSUMER.CREATE." + StreamName + "." + durable + ".>"),
		jsAPI("CONSUMER.MSG.NEXT." + StreamName + "." + durable),
		"$JS.ACK." + StreamName + "." + durable + ".>",
	}
}

func concat(lists ...[]string) []string {
	var out []string
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

// ServerUser is a role's user as nats-server reads it from JSON (the
// entries of natsd's NATSD_USERS_FILE).
type ServerUser struct {
	User        string            `json:"user"`
	Password    string            `json:"password"`
	Permissions serverPermissions `json:"permissions"`
}

type serverPermissions struct {
	Publish   subjectAllow    `json:"publish"`
	Subscribe subjectAllow    `json:"subscribe"`
	Responses *serverResponse `json:"responses,omitempty"`
}

type subjectAllow struct {
	Allow []string `json:"allow"`
}

// serverResponse is allow_responses: one reply per request, within the
// server's default time (a zero ttl).
type serverResponse struct {
	Max int `json:"max"`
}

// ServerUsers are the users of every role, named after it, each with the
// password passwords gives it.
func ServerUsers(passwords map[Role]string) ([]ServerUser, error) {
	users := make([]ServerUser, 0, len(Roles))
	for _, r := range Roles {
		p, err := r.Permissions()
		if err != nil {
			return nil, err
		}
		if passwords[r] == "" {
			return nil, fmt.Errorf("NATS user %s has no password", r)
		}
		if len(p.Publish) == 0 || len(p.Subscribe) == 0 {
			// nats-server reads an empty allow list as no restriction.
			return nil, fmt.Errorf("NATS user %s has an empty permission list, which would allow everything", r)
		}
		u := ServerUser{User: string(r), Password: passwords[r], Permissions: serverPermissions{
			Publish: subjectAllow{Allow: p.Publish}, Subscribe: subjectAllow{Allow: p.Subscribe},
		}}
		if p.AllowResponses {
			u.Permissions.Responses = &serverResponse{Max: 1}
		}
		users = append(users, u)
	}
	return users, nil
}

// Credentials authenticate a connection: a user and password, or an nkey
// seed file; the zero value adds none (NATS_URL may still carry
// user:password).
type Credentials struct {
	User, Password string
	NKeySeedFile   string
}

// Method names how c authenticates to the servers of natsURL, for a log
// line: "nkey", "password", "url" (user:password in NATS_URL) or "none".
func (c Credentials) Method(natsURL string) string {
	switch {
	case c.NKeySeedFile != "":
		return "nkey"
	case c.User != "":
		return "password"
	case strings.Contains(natsURL, "@"):
		return "url"
	}
	return "none"
}

// Options are the nats.Options that present c. An unreadable or invalid
// seed file is an error that names the file, never its content.
func (c Credentials) Options() ([]nats.Option, error) {
	switch {
	case c.NKeySeedFile != "":
		opt, err := nats.NkeyOptionFromSeed(c.NKeySeedFile)
		if err != nil {
			return nil, fmt.Errorf("NATS_NKEY_SEED_FILE %s: not a readable nkey user seed", c.NKeySeedFile)
		}
		return []nats.Option{opt}, nil
	case c.User != "":
		return []nats.Option{nats.UserInfo(c.User, c.Password)}, nil
	}
	return nil, nil
}

// ConnectOptions are the options every connection of role r takes: its
// credentials and its inbox prefix.
func ConnectOptions(r Role, c Credentials) ([]nats.Option, error) {
	opts, err := c.Options()
	if err != nil {
		return nil, err
	}
	return append(opts, nats.CustomInboxPrefix(r.InboxPrefix())), nil
}
