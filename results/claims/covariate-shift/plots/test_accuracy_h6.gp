# Re-plot by hand: gnuplot test_accuracy_h6.gp (writes test_accuracy_h6.png beside it)
here = ARG0[1:strlen(ARG0) - strlen('test_accuracy_h6.gp')]
if (!exists('out')) out = here . 'test_accuracy_h6.png'
set terminal pngcairo size 900,560 font ',11'
set output out
set title 'Test accuracy on the 1000 probe images (eval mode)'
set xlabel 'step'
set ylabel 'accuracy'
set key bottom right
set grid
set autoscale fix
set offsets graph 0, graph 0, graph 0.05, graph 0.05
plot here . 'test_accuracy_h6.dat' index 0 using 1:3:4 with filledcurves fs transparent solid 0.18 noborder lc 1 notitle, '' index 0 using 1:2 with lines lw 2 lc 1 title 'none', \
     '' index 1 using 1:3:4 with filledcurves fs transparent solid 0.18 noborder lc 2 notitle, '' index 1 using 1:2 with lines lw 2 lc 2 title 'bn', \
     '' index 2 using 1:3:4 with filledcurves fs transparent solid 0.18 noborder lc 3 notitle, '' index 2 using 1:2 with lines lw 2 lc 3 title 'noisy-bn'
