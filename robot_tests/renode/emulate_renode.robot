*** Settings ***
Documentation     The PRIOT firmware on Renode's Cortex-M0+ platform (emulation/renode), run
...               by `renode-test` (`invoke robot --backend renode`), held to the same
...               expectations as the rp2040js suite. Renode's SysTick counts instructions,
...               not cycles: the cycle budgets are therefore checked against instruction-
...               based figures, which are lower than rp2040js's cycle figures.
Resource          ${RENODEKEYWORDS}
Resource          ../expectations.resource
Suite Setup       Setup
Suite Teardown    Teardown
Test Teardown     Test Teardown

*** Variables ***
${ELF}            ${CURDIR}/../../build/rp2040/main.elf
${MODEL}          ${CURDIR}/../../build/renode/model.prmd
${DATASET}        ${CURDIR}/../../build/renode/dataset.prds
${CONFIG}         ${CURDIR}/../../build/renode/config.prcf
${UART_LOG}       ${CURDIR}/../../build/renode/uart0.log

*** Keywords ***
Start PRIOT
    Execute Command    $elf=@${ELF}
    Execute Command    $model=@${MODEL}
    Execute Command    $dataset=@${DATASET}
    Execute Command    $config=@${CONFIG}
    Execute Command    $uart_log=@${UART_LOG}
    Execute Command    include @${CURDIR}/../../emulation/renode/priot.resc
    Create Terminal Tester    sysbus.uart0    timeout=1800
    Start Emulation

Accuracy Of Phase
    [Arguments]    ${phase}
    ${line}=    Wait For Line On Uart    PRIOT EVAL phase=${phase} correct=(\\d+) total=(\\d+)
    ...    treatAsRegex=true
    ${acc}=    Evaluate    100.0 * int(${line.groups}[0]) / int(${line.groups}[1])
    RETURN    ${acc}

*** Test Cases ***
PRIOT Adapts To Rotated Digits On Renode
    Start PRIOT
    Wait For Line On Uart    PRIOT BOOT fw=1 clk_hz=125000000
    ${frozen}=    Accuracy Of Phase    frozen
    ${before}=    Accuracy Of Phase    before
    ${train}=    Wait For Line On Uart    PRIOT TRAIN samples=(\\d+) cycles=(\\d+)
    ...    treatAsRegex=true
    ${per_sample}=    Evaluate    int(${train.groups}[1]) / int(${train.groups}[0])
    Should Be True    ${per_sample} < ${TRAIN_CYCLES_BUDGET}
    ${after}=    Accuracy Of Phase    after
    Should Be True    ${after} - ${frozen} > ${MIN_GAIN_POINTS}
    Should Be True    ${after} > ${before}
    Wait For Line On Uart    PRIOT DONE status=ok
