# Re-plot by hand: gnuplot test_error_mlp.gp (writes test_error_mlp.png beside it)
here = ARG0[1:strlen(ARG0) - strlen('test_error_mlp.gp')]
if (!exists('out')) out = here . 'test_error_mlp.png'
set terminal pngcairo size 900,560 font ',11'
set output out
set title 'mlp: test error against batch size'
set xlabel 'batch B'
set ylabel 'test error (%)'
set key top right
set grid
set autoscale fix
set offsets graph 0, graph 0, graph 0.05, graph 0.05
set logscale x
set format x '%g'
set xtics (2, 5, 10, 20)
plot here . 'test_error_mlp.dat' index 0 using 1:3:4 with filledcurves fs transparent solid 0.18 noborder lc 1 notitle, '' index 0 using 1:2 with lines lw 2 lc 1 title 'bn', \
     '' index 1 using 1:3:4 with filledcurves fs transparent solid 0.18 noborder lc 2 notitle, '' index 1 using 1:2 with lines lw 2 lc 2 title 'gn', \
     '' index 2 using 1:3:4 with filledcurves fs transparent solid 0.18 noborder lc 3 notitle, '' index 2 using 1:2 with lines lw 2 lc 3 title 'ln', \
     '' index 3 using 1:3:4 with filledcurves fs transparent solid 0.18 noborder lc 4 notitle, '' index 3 using 1:2 with lines lw 2 lc 4 title 'none'
