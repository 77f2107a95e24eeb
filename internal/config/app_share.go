package config

import "time"

// AppShare is what bounds one app's share of the job queues, of the shared
// Generaitiv key's rate and of storage (docs/app-share.md).
type AppShare struct {
	// AppKinetixInFlight and AppGeneraitivInFlight cap one app's running
	// jobs on each queue, across every worker (APP_KINETIX_IN_FLIGHT,
	// APP_GENERAITIV_IN_FLIGHT; defaults 10 and 5).
	AppKinetixInFlight    int
	AppGeneraitivInFlight int
	// AppJobWait is the least snooze of a job whose app is at its cap
	// (APP_JOB_WAIT, default 2s).
	AppJobWait time.Duration
	// AppStorageQuotaBytes caps the bytes one app keeps stored: models,
	// emote videos and generated images (APP_STORAGE_QUOTA_BYTES, default
	// 10GiB; off for none).
	AppStorageQuotaBytes int64
	// GeneraitivAppShare is the fraction of GeneraitivRateLimit one app
	// without a key of its own may use of the shared key
	// (GENERAITIV_APP_SHARE, default 0.5).
	GeneraitivAppShare float64
}

func (r *reader) appShare() AppShare {
	s := AppShare{
		AppKinetixInFlight:    r.positiveInt("APP_KINETIX_IN_FLIGHT", 10),
		AppGeneraitivInFlight: r.positiveInt("APP_GENERAITIV_IN_FLIGHT", 5),
		AppJobWait:            r.duration("APP_JOB_WAIT", 2*time.Second),
		AppStorageQuotaBytes:  r.byteSize("APP_STORAGE_QUOTA_BYTES", 10<<30),
		GeneraitivAppShare:    r.positiveFloat("GENERAITIV_APP_SHARE", 0.5),
	}
	if s.GeneraitivAppShare > 1 {
		r.fail("GENERAITIV_APP_SHARE", "must be at most 1", r.getenv("GENERAITIV_APP_SHARE"))
	}
	return s
}
