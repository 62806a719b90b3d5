"""A call's life in the service: its FastAGI routes (the menus, waiting, operators' feature
codes), the switchboard that runs the queue, its promises on disk, prompts and recordings."""
