# Timing constraints of the 0.18 um standard-cell estimate (sw/flows/synth.py, target
# asic-osu018). The flow sets sdproc_clock_period_ns from top.clock_mhz of the configuration
# (10 ns for the default preset, 4 ns for the paper preset) before reading this file, so the
# clock target follows the preset. Ports are constrained with zero external delay: the block
# alone is measured, input-to-register and register-to-output paths included.
if {[llength [get_ports -quiet clk]] > 0} {
    create_clock -name clk -period $sdproc_clock_period_ns [get_ports clk]
} else {
    create_clock -name clk -period $sdproc_clock_period_ns
}
set data_inputs [lsearch -all -inline -not -exact [all_inputs] [get_ports -quiet clk]]
set_input_delay 0 -clock clk $data_inputs
set_output_delay 0 -clock clk [all_outputs]
set_load 0.01 [all_outputs]
