"""The device: firmware builds, tools, memory planning, the emulators and the real board."""
