package store

// WaitingStatuses is the list condition that selects the partial index
// payments_waiting, for the plan test.
const WaitingStatuses = waitingStatuses
