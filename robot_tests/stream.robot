*** Settings ***
Documentation     Stream mode on the emulated Pico (docs/STREAMING.md): rotated digits
...               arrive one frame at a time over UART0, with line noise and a half-sent
...               frame of a host that vanished in the middle; the device refuses exactly
...               those, keeps serving, learns every sample, saves its state, and answers
...               byte for byte as the host library does.
Library           StreamLibrary.py
Suite Setup       Stream 40 Rotated Digits With Garbage On The Line

*** Test Cases ***
The Device Answers As The Host Library Does
    The Device Replies Should Equal The Host Library's

Bad Frames Are Refused And The Device Recovers
    Exactly 2 Frames Should Be Refused

Every Sample Is Learned And The State Is Saved
    Every Sample Should Be Learned And The State Saved
