# Re-plot by hand: gnuplot accuracy_vs_test_batch.gp (writes accuracy_vs_test_batch.png beside it)
here = ARG0[1:strlen(ARG0) - strlen('accuracy_vs_test_batch.gp')]
if (!exists('out')) out = here . 'accuracy_vs_test_batch.png'
set terminal pngcairo size 900,560 font ',11'
set output out
set title 'test accuracy against the test batch'
set xlabel 'test batch size'
set ylabel 'test accuracy (%)'
set key bottom right
set grid
set autoscale fix
set offsets graph 0, graph 0, graph 0.05, graph 0.05
set logscale x
set format x '%g'
plot here . 'accuracy_vs_test_batch.dat' index 0 using 1:3:4 with filledcurves fs transparent solid 0.18 noborder lc 1 notitle, '' index 0 using 1:2 with lines lw 2 lc 1 title 'eval mode (running statistics)', \
     '' index 1 using 1:3:4 with filledcurves fs transparent solid 0.18 noborder lc 2 notitle, '' index 1 using 1:2 with lines lw 2 lc 2 title 'batch statistics (train mode)'
