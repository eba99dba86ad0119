"""The results room: funnels, payments, time to pay and experiment statistics, computed from the store."""
