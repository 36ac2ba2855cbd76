package ledger

// DayVolume is the money captured on one UTC day in one currency: the
// dashboard's volume chart.
type DayVolume struct {
	Day      string // YYYY-MM-DD
	Currency string
	Amount   int64
	Captures int
}
