*** Settings ***
Documentation     The paper's comparison on a CI-sized configuration: every method once on
...               the emulated Pico (bit-exact with the host build, costs, memory) and the
...               accuracy claims on the host build, with the margins measured by
...               `invoke experiment` (docs/results.md). Where our runs do not reproduce
...               the paper (PRIOT vs tuned static-scale SGD), the test states what holds.
Resource          expectations.resource
Library           MethodsLibrary.py
Suite Setup       Run Methods

*** Keywords ***
Run Methods
    Run Every Method On The Emulated Pico    n_train=3    n_test=2    angle=45
    Run Every Method On The Host Build At 30 Degrees
    Run Every Method On The Host Build At 60 Degrees

*** Test Cases ***
Every Method On The Emulator Matches The Host Build
    [Template]    Emulator Run Of ${method} Should Match The Host Build
    static-sgd
    niti
    priot
    priot-s 10%
    priot-s 20%

Dynamic Scales Cost Cycles That Static Shifts Avoid
    NITI Range Searches Should Take At Least ${NITI_MIN_SCALE_PERCENT} Percent Of Its Step
    NITI Step Should Cost At Least ${NITI_MIN_STEP_RATIO} Times The Static-Scale Step

PRIOT-S Keeps A Fraction Of PRIOT's Score Memory
    priot-s 10% Score Memory Should Be At Most 0.11 Of PRIOT
    priot-s 20% Score Memory Should Be At Most 0.21 Of PRIOT

PRIOT Beats Dynamic-Scale Integer Training, Below The Paper's Range At 60 Degrees
    [Documentation]    The paper's +8.08 to +33.75 points do not hold at 60 degrees against
    ...                NITI with its own rounding (docs/results.md); what holds is asserted.
    PRIOT Should Beat niti By At Least ${PRIOT_VS_NITI_MIN} Points At 60 Degrees
    PRIOT Should Beat niti By Less Than ${PAPER_MIN_GAIN} Points At 60 Degrees

PRIOT Does Not Beat Tuned Static-Scale SGD On Rotated Digits
    [Documentation]    Not the paper's claim: tuned static-scale SGD stays ahead of PRIOT
    ...                on the tiny CNN (not on VGG11), by less than the margin.
    static-sgd Should Be Ahead Of PRIOT By Less Than ${PRIOT_VS_STATIC_MARGIN} Points At 60 Degrees

PRIOT-S 20% Loses Little Accuracy
    priot-s 20% Should Stay Within ${LITTLE_LOSS} Points Of PRIOT At 30 Degrees
    priot-s 20% Should Stay Within ${LITTLE_LOSS} Points Of PRIOT At 60 Degrees

PRIOT-S 10% Loses More Than A Little At 60 Degrees
    [Documentation]    The paper's "little loss" does not hold for a tenth of the edges at
    ...                60 degrees on the tiny CNN (docs/results.md).
    priot-s 10% Should Be More Than ${LITTLE_LOSS} Points Below PRIOT At 60 Degrees
