# Re-plot by hand: gnuplot ics_h3.gp (writes ics_h3.png beside it)
here = ARG0[1:strlen(ARG0) - strlen('ics_h3.gp')]
if (!exists('out')) out = here . 'ics_h3.png'
set terminal pngcairo size 900,560 font ',11'
set output out
set title 'Internal covariate shift of fc3 (Santurkar et al.)'
set xlabel 'step'
set ylabel '‖G - G''‖ / ‖G‖'
set key bottom right
set grid
set autoscale fix
set offsets graph 0, graph 0, graph 0.05, graph 0.05
set logscale y
set format y '%g'
plot here . 'ics_h3.dat' index 0 using 1:3:4 with filledcurves fs transparent solid 0.18 noborder lc 1 notitle, '' index 0 using 1:2 with lines lw 2 lc 1 title 'none', \
     '' index 1 using 1:3:4 with filledcurves fs transparent solid 0.18 noborder lc 2 notitle, '' index 1 using 1:2 with lines lw 2 lc 2 title 'bn', \
     '' index 2 using 1:3:4 with filledcurves fs transparent solid 0.18 noborder lc 3 notitle, '' index 2 using 1:2 with lines lw 2 lc 3 title 'noisy-bn'
