package kinetixsim

import (
	"time"
)

// The process statuses (docs/upstreams-kinetix.md).
const (
	StatusPending            = "pending"
	StatusProcessing         = "processing"
	StatusAwaitingValidation = "awaiting_validation"
	StatusDone               = "done"
	StatusFailed             = "failed"
	StatusRejected           = "rejected"
)

// process is one ML process.
type process struct {
	uuid       string
	key        string
	userID     string
	name       string
	mature     bool
	start, end string
	format     string
	videoBytes int64
	token      string
	retakeOf   string
	created    time.Time
	fate       FaultKind // "", FaultFailProcess or FaultStuckProcess
	validation bool
	validated  bool
	rejected   bool
	// retakeToken is the token the retake of this process issued.
	retakeToken string
	emoteUUID   string
}

// status derives the process status and progress (0–100) at now: pending
// for the first fifth of the duration, then processing, then its end state.
func (p *process) status(now time.Time, d time.Duration) (string, int) {
	elapsed := now.Sub(p.created)
	switch {
	case p.rejected:
		return StatusRejected, 100
	case elapsed < d/5:
		return StatusPending, 0
	case elapsed < d || p.fate == FaultStuckProcess:
		return StatusProcessing, min(99, int(100*elapsed/d))
	case p.fate == FaultFailProcess:
		return StatusFailed, 100
	case p.validation && !p.validated:
		return StatusAwaitingValidation, 100
	}
	return StatusDone, 100
}

// processView is the JSON of a process.
type processView struct {
	UUID           string     `json:"uuid"`
	UserID         string     `json:"userId"`
	Name           string     `json:"name"`
	Mature         bool       `json:"mature"`
	Start          string     `json:"start"`
	End            string     `json:"end"`
	Status         string     `json:"status"`
	Progress       int        `json:"progress"`
	ValidationFlow bool       `json:"validationFlow"`
	Validated      bool       `json:"validated"`
	RetakeOf       *string    `json:"retakeOf"`
	Emote          *emoteView `json:"emote"`
	Error          *errorView `json:"error"`
	CreatedAt      time.Time  `json:"createdAt"`
}

// emoteView is the generated emote, present once the process has produced
// it (awaiting_validation or done).
type emoteView struct {
	UUID         string  `json:"uuid"`
	Name         string  `json:"name"`
	AnimationURL string  `json:"animationUrl"`
	ThumbnailURL string  `json:"thumbnailUrl"`
	Duration     float64 `json:"duration"`
}

type errorView struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (p *process) view(now time.Time, d time.Duration) *processView {
	status, progress := p.status(now, d)
	v := &processView{
		UUID: p.uuid, UserID: p.userID, Name: p.name, Mature: p.mature, Start: p.start, End: p.end,
		Status: status, Progress: progress, ValidationFlow: p.validation, Validated: p.validated,
		CreatedAt: p.created.UTC(),
	}
	if p.retakeOf != "" {
		v.RetakeOf = &p.retakeOf
	}
	switch status {
	case StatusAwaitingValidation, StatusDone:
		startMS, _ := parseClock(p.start)
		endMS, _ := parseClock(p.end)
		base := "https://cdn.kinetix.sim/emotes/" + p.emoteUUID
		v.Emote = &emoteView{UUID: p.emoteUUID, Name: p.name, AnimationURL: base + "/animation.glb",
			ThumbnailURL: base + "/thumbnail.png", Duration: float64(endMS-startMS) / 1000}
	case StatusFailed:
		v.Error = &errorView{Code: "no_character_detected", Message: "no character could be tracked in the video"}
	}
	return v
}

// token is a process token.
type token struct {
	token    string
	key      string
	userID   string
	expires  time.Time
	retakeOf string
	// process is the uuid of the process it created, once used.
	process string
}

// The token statuses.
const (
	TokenUnused  = "unused"
	TokenUsed    = "used"
	TokenExpired = "expired"
)

// status: used (whatever its age: a used token keeps pointing at its
// process), else expired past its TTL, else unused.
func (t *token) status(now time.Time) string {
	switch {
	case t.process != "":
		return TokenUsed
	case !now.Before(t.expires):
		return TokenExpired
	}
	return TokenUnused
}

// tokenView is the JSON of a token, from the token, retake and token-status
// routes.
type tokenView struct {
	Token       string    `json:"token"`
	UserID      string    `json:"userId"`
	Status      string    `json:"status"`
	ExpiresAt   time.Time `json:"expiresAt"`
	ProcessUUID *string   `json:"processUuid"`
	RetakeOf    *string   `json:"retakeOf"`
}

func (t *token) view(now time.Time) *tokenView {
	v := &tokenView{Token: t.token, UserID: t.userID, Status: t.status(now), ExpiresAt: t.expires.UTC()}
	if t.process != "" {
		v.ProcessUUID = &t.process
	}
	if t.retakeOf != "" {
		v.RetakeOf = &t.retakeOf
	}
	return v
}
