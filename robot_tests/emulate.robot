*** Settings ***
Documentation     Boots the PRIOT firmware in the emulator and checks its UART report:
...               accuracy on rotated digits rises with on-device training, costs stay
...               within budget, and the host build of the C library agrees bit for bit.
Resource          expectations.resource
Library           PriotLibrary.py
Suite Setup       Run PRIOT In Emulator    backend=${BACKEND}    n_train=${N_TRAIN}
...               n_test=${N_TEST}    angle=${ANGLE}

*** Test Cases ***
Firmware Reports Every Evaluation
    Accuracy Should Be Reported For    frozen    before    after

PRIOT Raises Rotated-Digit Accuracy Above The Frozen Model
    Accuracy After Training Should Exceed    frozen    ${MIN_GAIN_POINTS}

PRIOT Improves On Its Initial Mask
    Accuracy After Training Should Exceed    before    0

Training Sample Cost Stays Within Budget
    Cycles Per Training Sample Should Be Below    ${TRAIN_CYCLES_BUDGET}

Inference Cost Stays Within Budget
    Cycles Per Inference Should Be Below    ${INFER_CYCLES_BUDGET}

Emulator Matches The Host Build Bit For Bit
    Emulator And Host Build Should Agree
