"""The scheduling rules: windows, slots, requests, booking and cancelling."""
