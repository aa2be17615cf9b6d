package googlefake

import (
	"fmt"
	"time"
)

// Quota holds per-user limits, per minute unless named otherwise. A zero field
// means unlimited; Quota{} switches quotas off.
type Quota struct {
	CriticalReadsPerMinute  int // contact and profile reads; creates and updates spend one too
	CriticalWritesPerMinute int // contact creates and updates
	WritesPerMinute         int // contact deletes and contact group writes
	GroupReadsPerMinute     int // contact group reads
	// FullSyncFirstPagesPerMinute is the separate fixed quota on the first page
	// of a full sync (connections.list without syncToken or pageToken). Google
	// publishes no number; the default is a guess [inf].
	FullSyncFirstPagesPerMinute int
	ContactWritesPerDay         int
}

// DefaultQuota holds the observed per-user defaults (facts §4).
var DefaultQuota = Quota{
	CriticalReadsPerMinute:      60,
	CriticalWritesPerMinute:     30,
	WritesPerMinute:             30,
	GroupReadsPerMinute:         90,
	FullSyncFirstPagesPerMinute: 10,
	ContactWritesPerDay:         100000,
}

type bucket int

const (
	bCriticalRead bucket = iota
	bCriticalWrite
	bWrite
	bGroupRead
	bFullSync
	bDailyContactWrites
	numBuckets
)

var bucketInfo = [numBuckets]struct {
	metric, limit, limitName, quotaMetric string
	window                                time.Duration
}{
	bCriticalRead:       {"Critical read requests (Contact and Profile Reads)", "Critical read requests (Contact and Profile Reads) per minute per user", "CriticalReadsPerMinutePerProjectPerUser", "people.googleapis.com/critical_read_requests", time.Minute},
	bCriticalWrite:      {"Critical write requests (Contact Creates and Updates)", "Critical write requests (Contact Creates and Updates) per minute per user", "CriticalWritesPerMinutePerProjectPerUser", "people.googleapis.com/critical_write_requests", time.Minute},
	bWrite:              {"Write requests (Contact Deletes and Contact Group Writes)", "Write requests (Contact Deletes and Contact Group Writes) per minute per user", "WritesPerMinutePerProjectPerUser", "people.googleapis.com/write_requests", time.Minute},
	bGroupRead:          {"Read requests (Contact Group Reads)", "Read requests (Contact Group Reads) per minute per user", "ReadsPerMinutePerProjectPerUser", "people.googleapis.com/read_requests", time.Minute},
	bFullSync:           {"Full sync requests (First page of a full sync)", "Full sync requests (First page of a full sync) per minute per user", "FullSyncRequestsPerMinutePerProjectPerUser", "people.googleapis.com/full_sync_requests", time.Minute}, // names [inf]
	bDailyContactWrites: {"Daily Contact Writes (Total)", "Daily Contact Writes (Total) per day per user", "DailyContactWritesPerDayPerProjectPerUser", "people.googleapis.com/daily_contact_writes", 24 * time.Hour},
}

func (q Quota) limit(b bucket) int {
	switch b {
	case bCriticalRead:
		return q.CriticalReadsPerMinute
	case bCriticalWrite:
		return q.CriticalWritesPerMinute
	case bWrite:
		return q.WritesPerMinute
	case bGroupRead:
		return q.GroupReadsPerMinute
	case bFullSync:
		return q.FullSyncFirstPagesPerMinute
	case bDailyContactWrites:
		return q.ContactWritesPerDay
	}
	return 0
}

// cost is what one call spends per bucket.
type cost [numBuckets]int

// QuotaSpent counts the quota units calls spent, per Quota field.
type QuotaSpent struct {
	CriticalReads, CriticalWrites, Writes, GroupReads, FullSyncFirstPages, DailyContactWrites int
}

func (q *QuotaSpent) field(b bucket) *int {
	return [numBuckets]*int{&q.CriticalReads, &q.CriticalWrites, &q.Writes, &q.GroupReads,
		&q.FullSyncFirstPages, &q.DailyContactWrites}[b]
}

func (q *QuotaSpent) add(o QuotaSpent) {
	for b := bucket(0); b < numBuckets; b++ {
		*q.field(b) += *o.field(b)
	}
}

// window is a fixed window aligned to the clock (minute or day).
type window struct {
	start time.Time
	used  int
}

// charge spends c from u's buckets, all or nothing, and returns a 429 naming
// the first bucket that would overflow.
func (s *Server) charge(u *user, c cost) *apiError {
	now := s.clock.Now()
	for b := bucket(0); b < numBuckets; b++ {
		lim := s.cfg.quota.limit(b)
		if c[b] == 0 || lim == 0 {
			continue
		}
		w := &u.quota[b]
		if start := now.Truncate(bucketInfo[b].window); !w.start.Equal(start) {
			w.start, w.used = start, 0
		}
		if w.used+c[b] > lim {
			u.stats.RateLimited++
			return errQuota(b)
		}
	}
	for b := bucket(0); b < numBuckets; b++ {
		if c[b] != 0 && s.cfg.quota.limit(b) != 0 {
			u.quota[b].used += c[b]
		}
		*u.stats.Spent.field(b) += c[b]
	}
	return nil
}

const fakeConsumer = "project_number:123456789012"

func errQuota(b bucket) *apiError {
	bi := bucketInfo[b]
	return &apiError{
		code: 429, status: "RESOURCE_EXHAUSTED", reason: "rateLimitExceeded",
		message: fmt.Sprintf("Quota exceeded for quota metric '%s' and limit '%s' of service 'people.googleapis.com' for consumer '%s'.", bi.metric, bi.limit, fakeConsumer),
		details: []any{
			errorInfo("RATE_LIMIT_EXCEEDED", "googleapis.com", map[string]string{
				"consumer":     "projects/123456789012",
				"quota_limit":  bi.limitName,
				"quota_metric": bi.quotaMetric,
				"service":      "people.googleapis.com",
			}),
			map[string]any{
				"@type": "type.googleapis.com/google.rpc.Help",
				"links": []map[string]string{{
					"description": "Request a higher quota limit.",
					"url":         "https://cloud.google.com/docs/quota#requesting_higher_quota",
				}},
			},
		},
	}
}
