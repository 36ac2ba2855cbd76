package logging_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/paygate/paygate/internal/logging"
)

// TestEpisode: the records of a fault are written once per episode, which
// ends after EpisodeQuiet without one; other faults and unmarked records
// are written each time.
func TestEpisode(t *testing.T) {
	var buf bytes.Buffer
	h := logging.New(&buf, slog.LevelInfo, "json").With("service", "paygate").Handler()
	ctx := context.Background()
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	emit := func(d time.Duration, msg string, attrs ...slog.Attr) {
		r := slog.NewRecord(at.Add(d), slog.LevelError, msg, 0)
		r.AddAttrs(attrs...)
		if err := h.Handle(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	// An outage of 30 s with a failure every 100 ms, beside a job that
	// fails every second.
	for d := time.Duration(0); d < 30*time.Second; d += 100 * time.Millisecond {
		emit(d, "database unavailable", logging.Episode("database"))
		if d%time.Second == 0 {
			emit(d, "background job failed", logging.Episode("job recovery"))
		}
	}
	emit(31*time.Second, "unmarked")
	emit(32*time.Second, "unmarked")
	// Back after a quiet EpisodeQuiet: a new episode.
	emit(30*time.Second+logging.EpisodeQuiet, "database unavailable", logging.Episode("database"))
	emit(30*time.Second+logging.EpisodeQuiet+time.Second, "database unavailable", logging.Episode("database"))
	got := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		for _, msg := range []string{"database unavailable", "background job failed", "unmarked"} {
			if strings.Contains(line, `"msg":"`+msg+`"`) {
				got[msg]++
			}
		}
	}
	if got["database unavailable"] != 2 || got["background job failed"] != 1 || got["unmarked"] != 2 {
		t.Errorf("lines written: %v, want 2 database episodes, 1 job episode, 2 unmarked\n%s", got, buf.String())
	}
}
