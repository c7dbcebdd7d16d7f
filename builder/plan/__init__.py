"""From sources to a dataset plan, pure: the windows of each recording, their labels, the split of
each recording and where each window's files go."""
