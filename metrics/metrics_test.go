package metrics

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestEventWrittenCountsPaymentMoves(t *testing.T) {
	before := testutil.ToFloat64(paymentsMoved.WithLabelValues("paid"))
	EventWritten("payment.paid")
	EventWritten("attempt.pending") // not a payment move
	EventWritten("payment.paid_twice")
	if got := testutil.ToFloat64(paymentsMoved.WithLabelValues("paid")) - before; got != 1 {
		t.Fatalf("payment.paid counted %v times, want 1", got)
	}
	if n := testutil.CollectAndCount(paymentsMoved); n > len(paymentStatusOf) {
		t.Fatalf("%d status labels: unknown events made labels", n)
	}
}

// TestFailedReadingIsReported: a shared reading that fails leaves its series out and says so,
// rather than reporting a misleading zero.
func TestFailedReadingIsReported(t *testing.T) {
	WatchJobLag("test_job_ok", func(context.Context) (time.Duration, error) { return 90 * time.Second, nil })
	WatchJobLag("test_job_broken", func(context.Context) (time.Duration, error) { return 0, errors.New("database is closed") })
	defer func() {
		watched.mu.Lock()
		delete(watched.lags, "test_job_ok")
		delete(watched.lags, "test_job_broken")
		watched.mu.Unlock()
	}()
	want := `
# HELP kassa_job_lag_seconds How far behind each background job is: the age of the oldest item that is due and not yet done (0 when none is due).
# TYPE kassa_job_lag_seconds gauge
kassa_job_lag_seconds{job="test_job_ok"} 90
# HELP kassa_metrics_scrape_errors Scrape-time readings that failed during this scrape (their series are missing).
# TYPE kassa_metrics_scrape_errors gauge
kassa_metrics_scrape_errors{reading="job_lag_test_job_broken"} 1
`
	if err := testutil.CollectAndCompare(&watched, strings.NewReader(want), "kassa_job_lag_seconds", "kassa_metrics_scrape_errors"); err != nil {
		t.Fatal(err)
	}
}
