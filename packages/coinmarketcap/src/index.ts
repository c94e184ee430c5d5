// This package exports nothing yet: its API arrives with its own issue.
export {};
